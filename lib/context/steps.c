/* Prefill and decode: check the request, reserve cache blocks, run forward passes, keep logits. */
#include <string.h>

#include "context/context.h"
#include "core/error.h"

static tinfer_status check_tokens(const tinfer_context *ctx, const int32_t *tokens, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= ctx->n_vocab)
            return tf_error(TINFER_E_INVALID_ARG, "token %zu is %d, outside [0, %u)", i, tokens[i],
                            ctx->n_vocab);
    return TINFER_OK;
}

static void keep_logits(tinfer_context *ctx, uint32_t seq, size_t pass_row) {
    memcpy(ctx->logits + (size_t)seq * ctx->n_vocab, ctx->pass_logits + pass_row * ctx->n_vocab,
           ctx->n_vocab * sizeof(float));
    ctx->has_logits[seq] = true;
}

/* One forward pass; while profiling, its ops and the pass itself (an event named step_name) go
 * into the context's trace. */
static void run_pass(tinfer_context *ctx, const tf_batch *batch, const char *step_name) {
    if (!ctx->profiling) {
        tf_forward(&ctx->engine, batch, ctx->pass_logits);
        return;
    }
    tf_trace_active = &ctx->trace;
    const uint64_t start = tf_trace_now_ns();
    tf_forward(&ctx->engine, batch, ctx->pass_logits);
    tf_trace_record(&ctx->trace, step_name, -1, batch->n_tokens, ctx->engine.hp->n_embd, start);
    tf_trace_active = NULL;
}

tinfer_status tf_context_prefill(tinfer_context *ctx, uint32_t seq, const int32_t *tokens,
                                 size_t n) {
    tinfer_status status = check_tokens(ctx, tokens, n);
    if (status != TINFER_OK) return status;
    if (n > ctx->kv.n_ctx)
        return tf_error(TINFER_E_CONTEXT_FULL, "%zu tokens exceed n_ctx = %u", n, ctx->kv.n_ctx);
    if ((status = tf_kv_reserve(&ctx->kv, seq, (uint32_t)n)) != TINFER_OK) return status;
    const uint32_t start = ctx->kv.seqs[seq].n_tokens;
    const size_t n_batch = ctx->rs.n_batch;
    for (size_t done = 0; done < n;) {
        const size_t chunk = n - done < n_batch ? n - done : n_batch;
        for (size_t i = 0; i < chunk; i++) {
            ctx->positions[i] = (int32_t)(start + done + i);
            ctx->token_seqs[i] = seq;
        }
        const bool last = done + chunk == n;
        ctx->out_tokens[0] = (uint32_t)(chunk - 1);
        const tf_batch batch = {.n_tokens = chunk,
                                .tokens = tokens + done,
                                .positions = ctx->positions,
                                .seqs = ctx->token_seqs,
                                .out_tokens = ctx->out_tokens,
                                .n_out = last ? 1 : 0};
        run_pass(ctx, &batch, "prefill");
        done += chunk;
    }
    tf_kv_set_len(&ctx->kv, seq, start + (uint32_t)n);
    keep_logits(ctx, seq, 0);
    return TINFER_OK;
}

static tinfer_status check_decode(const tinfer_context *ctx, const int32_t *seqs, size_t n_seq) {
    if (n_seq > ctx->kv.n_seq_max)
        return tf_error(TINFER_E_INVALID_ARG, "tinfer_decode: %zu sequences, but n_seq_max is %u",
                        n_seq, ctx->kv.n_seq_max);
    for (size_t i = 0; i < n_seq; i++) {
        if (seqs[i] < 0 || (uint32_t)seqs[i] >= ctx->kv.n_seq_max)
            return tf_error(TINFER_E_INVALID_ARG,
                            "tinfer_decode: seqs[%zu] = %d is outside [0, %u)", i, seqs[i],
                            ctx->kv.n_seq_max);
        for (size_t j = 0; j < i; j++)
            if (seqs[j] == seqs[i])
                return tf_error(TINFER_E_INVALID_ARG,
                                "tinfer_decode: sequence %d appears twice (seqs[%zu], seqs[%zu])",
                                seqs[i], j, i);
    }
    return TINFER_OK;
}

/* Reserves one token for every sequence, or for none. */
static tinfer_status reserve_all(tinfer_context *ctx, const int32_t *seqs, size_t n_seq) {
    for (size_t i = 0; i < n_seq; i++) {
        tinfer_status status = tf_kv_reserve(&ctx->kv, (uint32_t)seqs[i], 1);
        if (status != TINFER_OK) {
            for (size_t j = 0; j < i; j++) tf_kv_release_unused(&ctx->kv, (uint32_t)seqs[j]);
            return status;
        }
    }
    return TINFER_OK;
}

tinfer_status tf_context_decode(tinfer_context *ctx, const int32_t *seqs, const int32_t *tokens,
                                size_t n_seq) {
    tinfer_status status;
    if ((status = check_decode(ctx, seqs, n_seq)) || (status = check_tokens(ctx, tokens, n_seq)) ||
        (status = reserve_all(ctx, seqs, n_seq)))
        return status;
    for (size_t i = 0; i < n_seq; i++) {
        ctx->positions[i] = (int32_t)ctx->kv.seqs[seqs[i]].n_tokens;
        ctx->token_seqs[i] = (uint32_t)seqs[i];
        ctx->out_tokens[i] = (uint32_t)i;
    }
    const tf_batch batch = {.n_tokens = n_seq,
                            .tokens = tokens,
                            .positions = ctx->positions,
                            .seqs = ctx->token_seqs,
                            .out_tokens = ctx->out_tokens,
                            .n_out = n_seq,
                            .decode = true};
    run_pass(ctx, &batch, "decode");
    for (size_t i = 0; i < n_seq; i++) {
        const uint32_t seq = (uint32_t)seqs[i];
        tf_kv_set_len(&ctx->kv, seq, ctx->kv.seqs[seq].n_tokens + 1);
        keep_logits(ctx, seq, i);
    }
    return TINFER_OK;
}
