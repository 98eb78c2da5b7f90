/* The forward pass, top to bottom: embed, then per layer norm → attention → residual →
 * norm → FFN → residual, then the final norm and the output head. Architectures differ only in
 * the switches of tf_arch_traits (embed_scale, has_qkv_bias, has_qk_norm, post_norms, the RoPE
 * pairing, the FFN activation, the sliding-window pattern). All work goes through backend ops. */
#include "model/forward.h"

#include <math.h>

#include "core/trace.h"

/* Every backend call goes through OP, which times it when a profiler trace is active (one branch
 * otherwise). il, the layer index (-1 outside the layers), must be in scope. */
#define OP(name, rows, cols, call) TF_TRACE_OP(name, il, rows, cols, call)

static void fill_spans(const tf_engine *e, const tf_batch *batch) {
    const uint32_t window = e->hp->sliding_window;
    for (size_t t = 0; t < batch->n_tokens; t++) {
        const uint32_t pos = (uint32_t)batch->positions[t];
        const uint32_t seq = batch->seqs[t];
        e->rs->spans_global[t] = (tf_kv_span){
            .block_table = e->kv->seqs[seq].block_table, .pos_first = 0, .pos_last = pos};
        /* llama.cpp masks key p0 for query p1 when p1 - p0 >= window. Sliding-window layers
         * address their rows through the ring's table when the cache keeps one (kv_cache.h). */
        const uint32_t first = window && pos >= window ? pos - window + 1 : 0;
        e->rs->spans_local[t] = (tf_kv_span){
            .block_table = tf_kv_swa_table(e->kv, seq), .pos_first = first, .pos_last = pos};
    }
}

static tf_rope layer_rope(const tf_engine *e, bool is_swa) {
    const tf_hparams *hp = e->hp;
    return (tf_rope){
        .n_rot = hp->head_dim,
        .freq_base =
            is_swa && hp->rope_freq_base_local > 0 ? hp->rope_freq_base_local : hp->rope_freq_base,
        .neox = e->traits->rope_neox,
        /* llama.cpp scales only global layers; sliding-window layers keep the trained angles. */
        .freq_factors = is_swa                   ? NULL
                        : e->weights->rope_freqs ? e->weights->rope_freqs
                                                 : e->rope_scaling->freq_factors,
        .freq_scale = is_swa ? 1.0f : e->rope_scaling->freq_scale,
    };
}

static void attention_block(const tf_engine *e, unsigned il, const tf_batch *batch) {
    const tf_hparams *hp = e->hp;
    const tf_arch_traits *tr = e->traits;
    const tf_layer_weights *w = &e->weights->layers[il];
    const tf_backend_ops *op = e->backend->ops;
    tf_backend *be = e->backend;
    tf_run_state *rs = e->rs;
    const size_t n = batch->n_tokens;
    const size_t q_width = (size_t)hp->n_head * hp->head_dim;
    const size_t k_width = (size_t)hp->n_head_kv * hp->head_dim;
    const size_t v_width = (size_t)hp->n_head_kv * hp->head_dim_v;
    const bool is_swa = tf_layer_is_swa(tr, il, hp->sliding_window);

    OP("attn_norm", n, hp->n_embd,
       op->rmsnorm(be, rs->x, w->attn_norm, n, hp->n_embd, hp->rms_norm_eps, rs->xb));
    OP("attn_q", n, w->wq.n_rows, op->matmul(be, &w->wq, rs->xb, n, rs->q));
    OP("attn_k", n, w->wk.n_rows, op->matmul(be, &w->wk, rs->xb, n, rs->k));
    OP("attn_v", n, w->wv.n_rows, op->matmul(be, &w->wv, rs->xb, n, rs->v));
    if (tr->has_qkv_bias) {
        OP("bias_q", n, q_width, op->add_bias(be, rs->q, w->bq, n, q_width));
        OP("bias_k", n, k_width, op->add_bias(be, rs->k, w->bk, n, k_width));
        OP("bias_v", n, v_width, op->add_bias(be, rs->v, w->bv, n, v_width));
    }
    if (tr->has_qk_norm) {
        OP("q_norm", n, q_width,
           op->rmsnorm(be, rs->q, w->q_norm, n * hp->n_head, hp->head_dim, hp->rms_norm_eps,
                       rs->q));
        OP("k_norm", n, k_width,
           op->rmsnorm(be, rs->k, w->k_norm, n * hp->n_head_kv, hp->head_dim, hp->rms_norm_eps,
                       rs->k));
    }
    const tf_rope rope = layer_rope(e, is_swa);
    OP("rope_q", n, q_width,
       op->rope(be, rs->q, n, hp->n_head, hp->head_dim, batch->positions, &rope));
    OP("rope_k", n, k_width,
       op->rope(be, rs->k, n, hp->n_head_kv, hp->head_dim, batch->positions, &rope));

    if (tr->scale_q)
        OP("scale_q", n, q_width, op->scale(be, rs->q, tr->attn_scale, n * q_width));

    const tf_kv_layer *cache = &e->kv->layers[il];
    const tf_kv_span *spans = is_swa ? rs->spans_local : rs->spans_global;
    OP("kv_store", n, k_width + v_width,
       op->kv_store(be, cache, spans, batch->positions, n, rs->k, rs->v));
    const tf_attn_shape shape = {.n_head = hp->n_head,
                                 .n_head_kv = hp->n_head_kv,
                                 .head_dim = hp->head_dim,
                                 .head_dim_v = hp->head_dim_v,
                                 .scale = tr->scale_q ? 1.0f : tr->attn_scale};
    OP("attention", n, (size_t)hp->n_head * hp->head_dim_v,
       op->attention(be, cache, &shape, spans, n, rs->q, rs->att));

    OP("attn_output", n, w->wo.n_rows, op->matmul(be, &w->wo, rs->att, n, rs->xb));
    if (tr->post_norms)
        OP("post_attn_norm", n, hp->n_embd,
           op->rmsnorm(be, rs->xb, w->post_attn_norm, n, hp->n_embd, hp->rms_norm_eps, rs->xb));
    OP("attn_residual", n, hp->n_embd, op->add(be, rs->x, rs->xb, n * hp->n_embd));
}

static void ffn_block(const tf_engine *e, unsigned il, size_t n) {
    const tf_hparams *hp = e->hp;
    const tf_layer_weights *w = &e->weights->layers[il];
    const tf_backend_ops *op = e->backend->ops;
    tf_backend *be = e->backend;
    tf_run_state *rs = e->rs;

    OP("ffn_norm", n, hp->n_embd,
       op->rmsnorm(be, rs->x, w->ffn_norm, n, hp->n_embd, hp->rms_norm_eps, rs->xb));
    OP("ffn_gate", n, hp->n_ff, op->matmul(be, &w->ffn_gate, rs->xb, n, rs->ffn_gate));
    OP("ffn_up", n, hp->n_ff, op->matmul(be, &w->ffn_up, rs->xb, n, rs->ffn_up));
    OP("ffn_act", n, hp->n_ff,
       op->ffn_gate(be, e->traits->ffn_act, rs->ffn_gate, rs->ffn_up, n * hp->n_ff));
    OP("ffn_down", n, hp->n_embd, op->matmul(be, &w->ffn_down, rs->ffn_gate, n, rs->xb));
    if (e->traits->post_norms)
        OP("post_ffn_norm", n, hp->n_embd,
           op->rmsnorm(be, rs->xb, w->post_ffn_norm, n, hp->n_embd, hp->rms_norm_eps, rs->xb));
    OP("ffn_residual", n, hp->n_embd, op->add(be, rs->x, rs->xb, n * hp->n_embd));
}

static void output_head(const tf_engine *e, const tf_batch *batch, float *logits) {
    const tf_hparams *hp = e->hp;
    const tf_backend_ops *op = e->backend->ops;
    tf_backend *be = e->backend;
    tf_run_state *rs = e->rs;
    if (batch->n_out == 0) return; /* a prefill chunk before the last one */
    const int il = -1;             /* outside the layers */
    for (size_t i = 0; i < batch->n_out; i++)
        OP("output_norm", 1, hp->n_embd,
           op->rmsnorm(be, rs->x + (size_t)batch->out_tokens[i] * hp->n_embd,
                       e->weights->output_norm, 1, hp->n_embd, hp->rms_norm_eps,
                       rs->out_hidden + i * hp->n_embd));
    OP("output", batch->n_out, hp->n_vocab,
       op->matmul(be, &e->weights->output, rs->out_hidden, batch->n_out, logits));
    const float cap = e->traits->final_logit_softcap;
    if (cap > 0)
        OP("softcap", batch->n_out, hp->n_vocab,
           op->softcap(be, logits, cap, batch->n_out * hp->n_vocab));
}

void tf_forward(const tf_engine *e, const tf_batch *batch, float *logits) {
    const tf_hparams *hp = e->hp;
    tf_backend *be = e->backend;
    const size_t n = batch->n_tokens;

    const int il = -1; /* outside the layers */
    be->ops->begin_batch(be, batch->decode ? TF_BATCH_DECODE : TF_BATCH_PROMPT);
    fill_spans(e, batch);
    OP("embed", n, hp->n_embd,
       be->ops->embed_rows(be, &e->weights->token_embd, batch->tokens, n, e->rs->x));
    if (e->traits->embed_scale)
        OP("embed_scale", n, hp->n_embd,
           be->ops->scale(be, e->rs->x, sqrtf((float)hp->n_embd), n * hp->n_embd));

    for (unsigned il = 0; il < hp->n_layer; il++) {
        attention_block(e, il, batch);
        ffn_block(e, il, n);
    }
    output_head(e, batch, logits);
}
