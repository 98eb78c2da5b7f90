/* The forward pass's scratch activations: sized once for n_batch tokens, never grown. */
#include <stdlib.h>

#include "core/checked.h"
#include "core/error.h"
#include "model/forward.h"

static float *alloc_floats(tf_backend *be, size_t rows, size_t width, bool *ok) {
    size_t n, bytes;
    if (!tinfer_mul_size(rows, width, &n) || !tinfer_mul_size(n, sizeof(float), &bytes)) {
        *ok = false;
        return NULL;
    }
    float *p = be->ops->alloc(be, bytes);
    if (!p) *ok = false;
    return p;
}

tinfer_status tf_run_state_init(tf_run_state *rs, tf_backend *be, const tf_hparams *hp,
                                uint32_t n_batch, uint32_t n_out_max) {
    *rs = (tf_run_state){.n_batch = n_batch, .n_out_max = n_out_max};
    bool ok = true;
    rs->x = alloc_floats(be, n_batch, hp->n_embd, &ok);
    rs->xb = alloc_floats(be, n_batch, hp->n_embd, &ok);
    rs->q = alloc_floats(be, n_batch, (size_t)hp->n_head * hp->head_dim, &ok);
    rs->k = alloc_floats(be, n_batch, (size_t)hp->n_head_kv * hp->head_dim, &ok);
    rs->v = alloc_floats(be, n_batch, (size_t)hp->n_head_kv * hp->head_dim_v, &ok);
    rs->att = alloc_floats(be, n_batch, (size_t)hp->n_head * hp->head_dim_v, &ok);
    rs->ffn_gate = alloc_floats(be, n_batch, hp->n_ff, &ok);
    rs->ffn_up = alloc_floats(be, n_batch, hp->n_ff, &ok);
    rs->out_hidden = alloc_floats(be, n_out_max, hp->n_embd, &ok);
    rs->spans_global = calloc(n_batch, sizeof *rs->spans_global);
    rs->spans_local = calloc(n_batch, sizeof *rs->spans_local);
    if (!ok || !rs->spans_global || !rs->spans_local) {
        tf_run_state_free(rs, be);
        return tf_error(TINFER_E_NOMEM, "out of memory for activations of %u tokens", n_batch);
    }
    return TINFER_OK;
}

void tf_run_state_free(tf_run_state *rs, tf_backend *be) {
    float *buffers[] = {rs->x,   rs->xb,       rs->q,      rs->k,         rs->v,
                        rs->att, rs->ffn_gate, rs->ffn_up, rs->out_hidden};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) be->ops->free(be, buffers[i]);
    free(rs->spans_global);
    free(rs->spans_local);
    *rs = (tf_run_state){0};
}
