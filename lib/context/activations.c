/* The forward pass's scratch activations: sized once for n_batch tokens, never grown. */
#include "context/context.h"
#include "core/checked.h"
#include "core/error.h"

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

tinfer_status tf_activations_alloc(tf_activations *act, tf_backend *be, const tf_hparams *hp,
                                   uint32_t n_batch, uint32_t n_out_max) {
    *act = (tf_activations){0};
    bool ok = true;
    act->x = alloc_floats(be, n_batch, hp->n_embd, &ok);
    act->xb = alloc_floats(be, n_batch, hp->n_embd, &ok);
    act->q = alloc_floats(be, n_batch, (size_t)hp->n_head * hp->head_dim, &ok);
    act->k = alloc_floats(be, n_batch, (size_t)hp->n_head_kv * hp->head_dim, &ok);
    act->v = alloc_floats(be, n_batch, (size_t)hp->n_head_kv * hp->head_dim_v, &ok);
    act->att = alloc_floats(be, n_batch, (size_t)hp->n_head * hp->head_dim_v, &ok);
    act->ffn_gate = alloc_floats(be, n_batch, hp->n_ff, &ok);
    act->ffn_up = alloc_floats(be, n_batch, hp->n_ff, &ok);
    act->out_hidden = alloc_floats(be, n_out_max, hp->n_embd, &ok);
    act->logits = alloc_floats(be, n_out_max, hp->n_vocab, &ok);
    if (!ok) {
        tf_activations_free(act, be);
        return tf_error(TINFER_E_NOMEM, "out of memory for activations of %u tokens", n_batch);
    }
    return TINFER_OK;
}

void tf_activations_free(tf_activations *act, tf_backend *be) {
    float *buffers[] = {act->x,   act->xb,       act->q,      act->k,          act->v,
                        act->att, act->ffn_gate, act->ffn_up, act->out_hidden, act->logits};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        if (buffers[i]) be->ops->free(be, buffers[i]);
    *act = (tf_activations){0};
}
