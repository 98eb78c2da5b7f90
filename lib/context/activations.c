/* The forward pass's scratch activations: sized once for n_batch tokens and n_out_max rows of
 * logits (the output head's group), never grown. One table
 * lists every buffer, so allocating them and counting their bytes cannot disagree. */
#include "context/context.h"
#include "core/checked.h"
#include "core/error.h"

typedef struct buffer_shape {
    float **buffer; /* NULL while only counting */
    size_t rows, width;
} buffer_shape;

enum { N_BUFFERS = 10 };

static void shapes_of(tf_activations *act, const tf_hparams *hp, uint32_t n_batch,
                      uint32_t n_out_max, buffer_shape out[N_BUFFERS]) {
    const size_t q = (size_t)hp->n_head * hp->head_dim, kv = (size_t)hp->n_head_kv * hp->head_dim;
    const size_t v = (size_t)hp->n_head_kv * hp->head_dim_v;
    const size_t att = (size_t)hp->n_head * hp->head_dim_v;
    const buffer_shape shapes[N_BUFFERS] = {{&act->x, n_batch, hp->n_embd},
                                            {&act->xb, n_batch, hp->n_embd},
                                            {&act->q, n_batch, q},
                                            {&act->k, n_batch, kv},
                                            {&act->v, n_batch, v},
                                            {&act->att, n_batch, att},
                                            {&act->ffn_gate, n_batch, hp->n_ff},
                                            {&act->ffn_up, n_batch, hp->n_ff},
                                            {&act->out_hidden, n_out_max, hp->n_embd},
                                            {&act->logits, n_out_max, hp->n_vocab}};
    for (int i = 0; i < N_BUFFERS; i++) out[i] = shapes[i];
}

static bool bytes_of(const buffer_shape *shape, size_t *bytes) {
    size_t n;
    return tinfer_mul_size(shape->rows, shape->width, &n) &&
           tinfer_mul_size(n, sizeof(float), bytes);
}

bool tf_activations_bytes(const tf_hparams *hp, uint32_t n_batch, uint32_t n_out_max,
                          uint64_t *total) {
    tf_activations unused;
    buffer_shape shapes[N_BUFFERS];
    shapes_of(&unused, hp, n_batch, n_out_max, shapes);
    *total = 0;
    for (int i = 0; i < N_BUFFERS; i++) {
        size_t bytes;
        if (!bytes_of(&shapes[i], &bytes)) return false;
        *total += bytes;
    }
    return true;
}

tinfer_status tf_activations_alloc(tf_activations *act, tf_backend *be, const tf_hparams *hp,
                                   uint32_t n_batch, uint32_t n_out_max) {
    *act = (tf_activations){0};
    buffer_shape shapes[N_BUFFERS];
    shapes_of(act, hp, n_batch, n_out_max, shapes);
    act->n_logits_rows = n_out_max;
    for (int i = 0; i < N_BUFFERS; i++) {
        size_t bytes;
        if (!bytes_of(&shapes[i], &bytes) || !(*shapes[i].buffer = be->ops->alloc(be, bytes))) {
            tf_activations_free(act, be);
            return tf_error(TINFER_E_NOMEM, "out of memory for activations of %u tokens", n_batch);
        }
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
