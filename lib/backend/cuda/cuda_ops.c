/* The CUDA backend's products and element-wise ops: each reads its counts from the pass, turns
 * the weight pointers the forward pass hands it into their device copies (cuda_weights.c) and
 * launches a kernel of cuda_kernels.h on the context's stream. Activations are device memory
 * from the backend's alloc. */
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_state.h"
#include "core/error.h"

static uint32_t rows_of(const tf_cuda_state *s, tf_rows rows) {
    return rows == TF_ROWS_OUT ? s->pass.out_count : s->pass.n_tokens;
}

tinfer_status tf_cuda_matmul(tf_backend *be, const tf_matrix *w, tf_rows rows, const float *x,
                             float *y) {
    tf_cuda_state *s = be->state;
    const void *data = tf_cuda_weight(s, w->data, "matmul");
    if (!data) return TINFER_E_DEVICE;
    return tf_cuda_check(tfc_matvec((int)w->dtype, data, w->row_bytes, w->n_rows, w->row_elems, x,
                                    rows_of(s, rows), y, s->stream),
                         "matmul");
}

tinfer_status tf_cuda_matmul_multi(tf_backend *be, size_t n, const tf_matrix *const *w,
                                   tf_rows rows, const float *x, float *const *y) {
    if (n == 0 || n > TF_MATMUL_MULTI_MAX)
        return tf_error(TINFER_E_INVALID_ARG, "matmul_multi takes 1 to %d matrices, not %zu",
                        TF_MATMUL_MULTI_MAX, n);
    for (size_t i = 0; i < n; i++) {
        const tinfer_status status = tf_cuda_matmul(be, w[i], rows, x, y[i]);
        if (status != TINFER_OK) return status;
    }
    return TINFER_OK;
}

tinfer_status tf_cuda_embed(tf_backend *be, const tf_matrix *w, float *out) {
    tf_cuda_state *s = be->state;
    const void *data = tf_cuda_weight(s, w->data, "embed");
    if (!data) return TINFER_E_DEVICE;
    return tf_cuda_check(tfc_embed((int)w->dtype, data, w->row_bytes, w->row_elems,
                                   s->pass.d_tokens, s->pass.n_tokens, out, s->stream),
                         "embed");
}

tinfer_status tf_cuda_gather_out(tf_backend *be, const float *x, size_t width, float *out) {
    tf_cuda_state *s = be->state;
    return tf_cuda_check(tfc_gather_rows(x, (uint32_t)width,
                                         s->pass.d_out_tokens + s->pass.out_first,
                                         s->pass.out_count, out, s->stream),
                         "gather_out");
}

tinfer_status tf_cuda_rmsnorm(tf_backend *be, tf_rows rows, size_t heads, size_t width,
                              const float *x, const float *weight, float eps, float *out) {
    tf_cuda_state *s = be->state;
    const float *w = tf_cuda_weight(s, weight, "rmsnorm");
    if (!w) return TINFER_E_DEVICE;
    return tf_cuda_check(tfc_rmsnorm(x, w, eps, (uint32_t)(rows_of(s, rows) * heads),
                                     (uint32_t)width, out, s->stream),
                         "rmsnorm");
}

tinfer_status tf_cuda_rope(tf_backend *be, float *x, size_t n_heads, size_t head_dim,
                           const tf_rope *rope) {
    tf_cuda_state *s = be->state;
    const float *factors = NULL;
    if (rope->freq_factors && !(factors = tf_cuda_weight(s, rope->freq_factors, "rope")))
        return TINFER_E_DEVICE;
    const tfc_rope_args args = {.n_rot = rope->n_rot,
                                .freq_base = rope->freq_base,
                                .neox = rope->neox,
                                .freq_factors = factors,
                                .freq_scale = rope->freq_scale};
    return tf_cuda_check(tfc_rope(x, s->pass.d_positions, s->pass.n_tokens, (uint32_t)n_heads,
                                  (uint32_t)head_dim, &args, s->stream),
                         "rope");
}

tinfer_status tf_cuda_ffn_gate(tf_backend *be, tf_ffn_act act, size_t width, float *gate,
                               const float *up) {
    tf_cuda_state *s = be->state;
    const int kind = act == TF_FFN_SILU ? TFC_ACT_SILU : TFC_ACT_GELU_TANH;
    return tf_cuda_check(tfc_ffn_gate(kind, (size_t)s->pass.n_tokens * width, gate, up, s->stream),
                         "ffn_gate");
}

tinfer_status tf_cuda_add(tf_backend *be, size_t width, float *y, const float *x) {
    tf_cuda_state *s = be->state;
    return tf_cuda_check(tfc_add((size_t)s->pass.n_tokens * width, y, x, s->stream), "add");
}

tinfer_status tf_cuda_add_bias(tf_backend *be, size_t width, float *y, const float *bias) {
    tf_cuda_state *s = be->state;
    const float *b = tf_cuda_weight(s, bias, "add_bias");
    if (!b) return TINFER_E_DEVICE;
    return tf_cuda_check(
        tfc_add_bias((size_t)s->pass.n_tokens * width, (uint32_t)width, y, b, s->stream),
        "add_bias");
}

tinfer_status tf_cuda_scale(tf_backend *be, tf_rows rows, size_t width, float *y, float factor) {
    tf_cuda_state *s = be->state;
    return tf_cuda_check(tfc_scale((size_t)rows_of(s, rows) * width, y, factor, s->stream),
                         "scale");
}

tinfer_status tf_cuda_softcap(tf_backend *be, size_t width, float *y, float cap) {
    tf_cuda_state *s = be->state;
    return tf_cuda_check(tfc_softcap((size_t)s->pass.out_count * width, y, cap, s->stream),
                         "softcap");
}
