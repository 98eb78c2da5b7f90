/* The forward pass, top to bottom: embed, then per layer norm → attention → residual →
 * norm → FFN → residual, then the final norm and the output head. Architectures differ only in
 * the switches of tf_arch_traits (embed_scale, has_qkv_bias, has_qk_norm, post_norms, the RoPE
 * pairing, the FFN activation, the sliding-window pattern). All work goes through backend ops,
 * which read the pass's token count, positions and KV spans from the backend's own copy. */
#include "model/forward.h"

#include <math.h>

#include "core/error.h"

/* What one pass reads: the network, the backend, its activations, and (for the profiler's
 * events only) the pass's token and output counts. */
typedef struct pass {
    const tf_hparams *hp;
    const tf_network *net;
    tf_backend *be;
    const tf_activations *act;
    size_t n, n_out;
} pass;

/* Every backend call goes through OP: timed by the backend while profiling, and the pass stops
 * at the first op that fails. il, the layer index (-1 outside the layers), must be in scope. */
#define OP(name, rows, cols, call)                                             \
    do {                                                                       \
        tinfer_status status_;                                                 \
        TF_BACKEND_OP(status_, p->be, name, il, rows, cols, p->be->ops->call); \
        if (status_ != TINFER_OK) return status_;                              \
    } while (0)

static tf_rope layer_rope(const pass *p, bool is_swa) {
    const tf_hparams *hp = p->hp;
    const tf_network *net = p->net;
    return (tf_rope){
        .n_rot = hp->head_dim,
        .freq_base =
            is_swa && hp->rope_freq_base_local > 0 ? hp->rope_freq_base_local : hp->rope_freq_base,
        .neox = net->traits.rope_neox,
        /* llama.cpp scales only global layers; sliding-window layers keep the trained angles. */
        .freq_factors = is_swa                    ? NULL
                        : net->weights.rope_freqs ? net->weights.rope_freqs
                                                  : net->rope_scaling.freq_factors,
        .freq_scale = is_swa ? 1.0f : net->rope_scaling.freq_scale,
    };
}

static tinfer_status attention_block(const pass *p, unsigned il) {
    const tf_hparams *hp = p->hp;
    const tf_arch_traits *tr = &p->net->traits;
    const tf_layer_weights *w = &p->net->weights.layers[il];
    tf_backend *be = p->be;
    const tf_activations *a = p->act;
    const size_t n = p->n;
    const size_t q_width = (size_t)hp->n_head * hp->head_dim;
    const size_t k_width = (size_t)hp->n_head_kv * hp->head_dim;
    const size_t v_width = (size_t)hp->n_head_kv * hp->head_dim_v;
    const bool is_swa = tf_layer_is_swa(tr, il, hp->sliding_window);
    const float eps = hp->rms_norm_eps;

    OP("attn_norm", n, hp->n_embd,
       rmsnorm(be, TF_ROWS_TOKENS, 1, hp->n_embd, a->x, w->attn_norm, eps, a->xb));
    const tf_matrix *qkv[3] = {&w->wq, &w->wk, &w->wv}; /* one input: read (quantized) once */
    float *const qkv_out[3] = {a->q, a->k, a->v};
    OP("attn_qkv", n, (size_t)w->wq.n_rows + w->wk.n_rows + w->wv.n_rows,
       matmul_multi(be, 3, qkv, TF_ROWS_TOKENS, a->xb, qkv_out));
    if (tr->has_qkv_bias) {
        OP("bias_q", n, q_width, add_bias(be, q_width, a->q, w->bq));
        OP("bias_k", n, k_width, add_bias(be, k_width, a->k, w->bk));
        OP("bias_v", n, v_width, add_bias(be, v_width, a->v, w->bv));
    }
    if (tr->has_qk_norm) {
        OP("q_norm", n, q_width,
           rmsnorm(be, TF_ROWS_TOKENS, hp->n_head, hp->head_dim, a->q, w->q_norm, eps, a->q));
        OP("k_norm", n, k_width,
           rmsnorm(be, TF_ROWS_TOKENS, hp->n_head_kv, hp->head_dim, a->k, w->k_norm, eps, a->k));
    }
    const tf_rope rope = layer_rope(p, is_swa);
    OP("rope_q", n, q_width, rope(be, a->q, hp->n_head, hp->head_dim, &rope));
    OP("rope_k", n, k_width, rope(be, a->k, hp->n_head_kv, hp->head_dim, &rope));
    if (tr->scale_q)
        OP("scale_q", n, q_width, scale(be, TF_ROWS_TOKENS, q_width, a->q, tr->attn_scale));

    OP("kv_store", n, k_width + v_width, kv_store(be, il, is_swa, a->k, a->v));
    const tf_attn_shape shape = {.n_head = hp->n_head,
                                 .n_head_kv = hp->n_head_kv,
                                 .head_dim = hp->head_dim,
                                 .head_dim_v = hp->head_dim_v,
                                 .scale = tr->scale_q ? 1.0f : tr->attn_scale};
    OP("attention", n, (size_t)hp->n_head * hp->head_dim_v,
       attention(be, il, is_swa, &shape, a->q, a->att));

    OP("attn_output", n, w->wo.n_rows, matmul(be, &w->wo, TF_ROWS_TOKENS, a->att, a->xb));
    if (tr->post_norms)
        OP("post_attn_norm", n, hp->n_embd,
           rmsnorm(be, TF_ROWS_TOKENS, 1, hp->n_embd, a->xb, w->post_attn_norm, eps, a->xb));
    OP("attn_residual", n, hp->n_embd, add(be, hp->n_embd, a->x, a->xb));
    return TINFER_OK;
}

static tinfer_status ffn_block(const pass *p, unsigned il) {
    const tf_hparams *hp = p->hp;
    const tf_layer_weights *w = &p->net->weights.layers[il];
    tf_backend *be = p->be;
    const tf_activations *a = p->act;
    const size_t n = p->n;
    const float eps = hp->rms_norm_eps;

    OP("ffn_norm", n, hp->n_embd,
       rmsnorm(be, TF_ROWS_TOKENS, 1, hp->n_embd, a->x, w->ffn_norm, eps, a->xb));
    const tf_matrix *gate_up[2] = {&w->ffn_gate, &w->ffn_up};
    float *const gate_up_out[2] = {a->ffn_gate, a->ffn_up};
    OP("ffn_gate_up", n, 2 * (size_t)hp->n_ff,
       matmul_multi(be, 2, gate_up, TF_ROWS_TOKENS, a->xb, gate_up_out));
    OP("ffn_act", n, hp->n_ff,
       ffn_gate(be, p->net->traits.ffn_act, hp->n_ff, a->ffn_gate, a->ffn_up));
    OP("ffn_down", n, hp->n_embd, matmul(be, &w->ffn_down, TF_ROWS_TOKENS, a->ffn_gate, a->xb));
    if (p->net->traits.post_norms)
        OP("post_ffn_norm", n, hp->n_embd,
           rmsnorm(be, TF_ROWS_TOKENS, 1, hp->n_embd, a->xb, w->post_ffn_norm, eps, a->xb));
    OP("ffn_residual", n, hp->n_embd, add(be, hp->n_embd, a->x, a->xb));
    return TINFER_OK;
}

/* The head over one group of output rows: gather, final norm, logits, soft-cap, copy out. */
static tinfer_status head_group(const pass *p, uint32_t first, uint32_t n_rows) {
    const tf_hparams *hp = p->hp;
    const tf_weights *w = &p->net->weights;
    tf_backend *be = p->be;
    const tf_activations *a = p->act;
    const int il = -1; /* outside the layers */
    /* Selecting the group and copying its logits out are not ops the profiler lists: the pass's
     * own event covers them, as it covered end_pass's copy before groups. */
    tinfer_status status = be->ops->out_select(be, first, n_rows);
    if (status != TINFER_OK) return status;
    OP("output_gather", n_rows, hp->n_embd, gather_out(be, a->x, hp->n_embd, a->out_hidden));
    OP("output_norm", n_rows, hp->n_embd,
       rmsnorm(be, TF_ROWS_OUT, 1, hp->n_embd, a->out_hidden, w->output_norm, hp->rms_norm_eps,
               a->out_hidden));
    OP("output", n_rows, hp->n_vocab,
       matmul(be, &w->output, TF_ROWS_OUT, a->out_hidden, a->logits));
    const float cap = p->net->traits.final_logit_softcap;
    if (cap > 0) OP("softcap", n_rows, hp->n_vocab, softcap(be, hp->n_vocab, a->logits, cap));
    return be->ops->logits_out(be, a->logits, hp->n_vocab);
}

/* The output tokens in groups of n_logits_rows, so the logits scratch stays that many rows
 * whatever the number of tokens that want logits (a prefill chunk before the last has none). */
static tinfer_status output_head(const pass *p) {
    const size_t group = p->act->n_logits_rows;
    for (size_t first = 0; first < p->n_out; first += group) {
        const size_t n_rows = p->n_out - first < group ? p->n_out - first : group;
        tinfer_status status = head_group(p, (uint32_t)first, (uint32_t)n_rows);
        if (status != TINFER_OK) return status;
    }
    return TINFER_OK;
}

tinfer_status tf_forward(const tinfer_model *model, const tf_network *net, tf_backend *be,
                         const tf_activations *act, size_t n_tokens, size_t n_out,
                         const tf_abort_check *abort) {
    const tf_hparams *hp = &model->hparams;
    const pass pass_ = {.hp = hp, .net = net, .be = be, .act = act, .n = n_tokens, .n_out = n_out};
    const pass *p = &pass_;
    const size_t n = n_tokens;
    const int il = -1; /* outside the layers */

    OP("embed", n, hp->n_embd, embed(be, &net->weights.token_embd, act->x));
    if (net->traits.embed_scale)
        OP("embed_scale", n, hp->n_embd,
           scale(be, TF_ROWS_TOKENS, hp->n_embd, act->x, sqrtf((float)hp->n_embd)));
    for (unsigned layer = 0; layer < hp->n_layer; layer++) {
        if (abort->fn && abort->fn(abort->user_data))
            return tf_error(TINFER_E_ABORTED, "the abort callback stopped the step before layer %u",
                            layer);
        tinfer_status status = attention_block(p, layer);
        if (status == TINFER_OK) status = ffn_block(p, layer);
        if (status != TINFER_OK) return status;
    }
    return output_head(p);
}
