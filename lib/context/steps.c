/* The step driver: check a request, reserve cache blocks, describe each pass (tf_step) to the
 * backend, run the network over it and keep the logits. */
#include <string.h>

#include "context/context.h"
#include "core/checked.h"
#include "core/error.h"

static tinfer_status check_tokens(const tinfer_context *ctx, const int32_t *tokens, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= ctx->n_vocab)
            return tf_error(TINFER_E_INVALID_ARG, "token %zu is %d, outside [0, %u)", i, tokens[i],
                            ctx->n_vocab);
    return TINFER_OK;
}

/* Token i of the pass sits at position pos of the pass's sequence slot: what it sees. llama.cpp
 * masks key p0 for query p1 when p1 - p0 >= window. */
static void describe_token(tinfer_context *ctx, size_t i, uint32_t pos, uint32_t slot) {
    const uint32_t window = ctx->model->hparams.sliding_window;
    ctx->positions[i] = (int32_t)pos;
    ctx->token_seq[i] = slot;
    ctx->spans_global[i] = (tf_span){.pos_first = 0, .pos_last = pos};
    ctx->spans_local[i] =
        (tf_span){.pos_first = window && pos >= window ? pos - window + 1 : 0, .pos_last = pos};
}

/* Sequence seq becomes slot `slot` of the pass's tables. */
static void describe_seq(tinfer_context *ctx, uint32_t slot, uint32_t seq) {
    ctx->tables[slot] = ctx->kv.seqs[seq].block_table;
    ctx->local_tables[slot] = tf_kv_swa_table(&ctx->kv, seq);
}

/* One forward pass over a described step; the backend records it while profiling. */
/* One forward pass over a described step; the backend records it while profiling. */
static tinfer_status run_pass(tinfer_context *ctx, const tf_step *step) {
    tf_backend *be = ctx->backend;
    be->trace = ctx->profiling ? &ctx->trace : NULL;
    tinfer_status status = be->ops->begin_pass(be, step);
    if (status == TINFER_OK)
        status = tf_forward(ctx->model, ctx->net, be, &ctx->act, step->n_tokens, step->n_out,
                            &ctx->abort);
    if (status == TINFER_OK) status = be->ops->end_pass(be);
    be->trace = NULL;
    return status;
}

/* Where a prefill's logits go: each wanted token's row to the caller's next row, and the last
 * token's, when the caller does not take it, straight to the sequence's own row. */
typedef struct prefill_out {
    const uint8_t *want; /* NULL: every token (when rows is set) */
    float *rows;         /* the caller's rows; NULL for a plain prefill */
    size_t next_row;     /* rows written so far */
} prefill_out;

static bool wants(const prefill_out *out, size_t t) {
    return out->rows && (!out->want || out->want[t]);
}

/* The output tokens of the chunk [done, done + chunk) of an n-token prefill; returns how many. */
static uint32_t describe_outputs(tinfer_context *ctx, uint32_t seq, prefill_out *out, size_t done,
                                 size_t chunk, size_t n) {
    uint32_t n_out = 0;
    for (size_t i = 0; i < chunk; i++) {
        const size_t t = done + i;
        float *row = NULL;
        if (wants(out, t)) row = out->rows + out->next_row++ * ctx->n_vocab;
        else if (t == n - 1) row = ctx->logits + (size_t)seq * ctx->n_vocab;
        if (!row) continue;
        ctx->out_tokens[n_out] = (uint32_t)i;
        ctx->out_rows[n_out++] = row;
    }
    return n_out;
}

static tinfer_status prefill_chunks(tinfer_context *ctx, uint32_t seq, const int32_t *tokens,
                                    size_t n, uint32_t start, prefill_out *out) {
    describe_seq(ctx, 0, seq);
    for (size_t done = 0; done < n;) {
        const size_t chunk = n - done < ctx->n_batch ? n - done : ctx->n_batch;
        for (size_t i = 0; i < chunk; i++) describe_token(ctx, i, start + (uint32_t)(done + i), 0);
        const tf_step step = {.kind = TF_BATCH_PROMPT,
                              .name = "prefill",
                              .n_tokens = (uint32_t)chunk,
                              .tokens = tokens + done,
                              .positions = ctx->positions,
                              .token_seq = ctx->token_seq,
                              .spans_global = ctx->spans_global,
                              .spans_local = ctx->spans_local,
                              .n_seqs = 1,
                              .n_table_blocks = ctx->kv.seqs[seq].n_blocks,
                              .tables = ctx->tables,
                              .local_tables = ctx->local_tables,
                              .n_out = describe_outputs(ctx, seq, out, done, chunk, n),
                              .out_tokens = ctx->out_tokens,
                              .out_logits = ctx->out_rows};
        tinfer_status status = run_pass(ctx, &step);
        if (status != TINFER_OK) return status;
        done += chunk;
    }
    return TINFER_OK;
}

static tinfer_status prefill(tinfer_context *ctx, uint32_t seq, const int32_t *tokens, size_t n,
                             prefill_out *out) {
    tinfer_status status = check_tokens(ctx, tokens, n);
    if (status != TINFER_OK) return status;
    if (n > ctx->kv.n_ctx)
        return tf_error(TINFER_E_CONTEXT_FULL, "%zu tokens exceed n_ctx = %u", n, ctx->kv.n_ctx);
    if ((status = tf_context_kv_reserve(ctx, seq, (uint32_t)n)) != TINFER_OK) return status;
    const uint32_t start = ctx->kv.seqs[seq].n_tokens;
    status = prefill_chunks(ctx, seq, tokens, n, start, out);
    if (status != TINFER_OK) {
        /* Rows written past the length are never read. (A device failing inside the output head
         * could leave the logits row part-written; the CPU's never fails there.) */
        tf_kv_release_unused(&ctx->kv, seq);
        return status;
    }
    tf_kv_set_len(&ctx->kv, seq, start + (uint32_t)n);
    if (wants(out, n - 1)) /* the caller's last row is the sequence's too: the same bits */
        memcpy(ctx->logits + (size_t)seq * ctx->n_vocab,
               out->rows + (out->next_row - 1) * ctx->n_vocab, ctx->n_vocab * sizeof(float));
    ctx->has_logits[seq] = true;
    return TINFER_OK;
}

tinfer_status tf_context_prefill(tinfer_context *ctx, uint32_t seq, const int32_t *tokens,
                                 size_t n) {
    prefill_out out = {0};
    return prefill(ctx, seq, tokens, n, &out);
}

tinfer_status tf_context_prefill_logits(tinfer_context *ctx, uint32_t seq, const int32_t *tokens,
                                        size_t n, const uint8_t *want, float *logits,
                                        size_t logits_cap) {
    size_t n_rows = 0, floats;
    for (size_t t = 0; t < n; t++) n_rows += !want || want[t];
    if (!tinfer_mul_size(n_rows, ctx->n_vocab, &floats) || floats > logits_cap)
        return tf_error(TINFER_E_INVALID_ARG,
                        "tinfer_prefill_logits: %zu rows of %u logits do not fit logits_cap = %zu "
                        "floats",
                        n_rows, ctx->n_vocab, logits_cap);
    if (n_rows && !logits)
        return tf_error(TINFER_E_INVALID_ARG, "tinfer_prefill_logits: logits is NULL");
    prefill_out out = {.want = want, .rows = n_rows ? logits : NULL};
    return prefill(ctx, seq, tokens, n, &out);
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

static void release_all(tinfer_context *ctx, const int32_t *seqs, size_t n_seq) {
    for (size_t j = 0; j < n_seq; j++) tf_kv_release_unused(&ctx->kv, (uint32_t)seqs[j]);
}

/* Reserves one token for every sequence, or for none. */
static tinfer_status reserve_all(tinfer_context *ctx, const int32_t *seqs, size_t n_seq) {
    for (size_t i = 0; i < n_seq; i++) {
        tinfer_status status = tf_context_kv_reserve(ctx, (uint32_t)seqs[i], 1);
        if (status != TINFER_OK) {
            release_all(ctx, seqs, i);
            return status;
        }
    }
    return TINFER_OK;
}

/* Sequence seqs[i] is slot i; its one token is token i and output i. */
static tf_step describe_decode(tinfer_context *ctx, const int32_t *seqs, const int32_t *tokens,
                               size_t n_seq) {
    uint32_t n_table_blocks = 0;
    for (size_t i = 0; i < n_seq; i++) {
        const uint32_t seq = (uint32_t)seqs[i];
        describe_seq(ctx, (uint32_t)i, seq);
        describe_token(ctx, i, ctx->kv.seqs[seq].n_tokens, (uint32_t)i);
        ctx->out_tokens[i] = (uint32_t)i;
        ctx->out_rows[i] = ctx->logits + (size_t)seq * ctx->n_vocab;
        if (ctx->kv.seqs[seq].n_blocks > n_table_blocks)
            n_table_blocks = ctx->kv.seqs[seq].n_blocks;
    }
    return (tf_step){.kind = TF_BATCH_DECODE,
                     .name = "decode",
                     .n_tokens = (uint32_t)n_seq,
                     .tokens = tokens,
                     .positions = ctx->positions,
                     .token_seq = ctx->token_seq,
                     .spans_global = ctx->spans_global,
                     .spans_local = ctx->spans_local,
                     .n_seqs = (uint32_t)n_seq,
                     .n_table_blocks = n_table_blocks,
                     .tables = ctx->tables,
                     .local_tables = ctx->local_tables,
                     .n_out = (uint32_t)n_seq,
                     .out_tokens = ctx->out_tokens,
                     .out_logits = ctx->out_rows};
}

tinfer_status tf_context_decode(tinfer_context *ctx, const int32_t *seqs, const int32_t *tokens,
                                size_t n_seq) {
    tinfer_status status;
    if ((status = check_decode(ctx, seqs, n_seq)) || (status = check_tokens(ctx, tokens, n_seq)) ||
        (status = reserve_all(ctx, seqs, n_seq)))
        return status;
    const tf_step step = describe_decode(ctx, seqs, tokens, n_seq);
    if ((status = run_pass(ctx, &step)) != TINFER_OK) {
        release_all(ctx, seqs, n_seq);
        return status;
    }
    for (size_t i = 0; i < n_seq; i++) {
        const uint32_t seq = (uint32_t)seqs[i];
        tf_kv_set_len(&ctx->kv, seq, ctx->kv.seqs[seq].n_tokens + 1);
        ctx->has_logits[seq] = true;
    }
    return TINFER_OK;
}
