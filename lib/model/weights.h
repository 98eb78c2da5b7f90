/* Weights bound by name for one architecture: matrices used in place from the mapped file, small
 * vectors (norms, biases) copied once as float32. Every shape is checked against the
 * hyper-parameters, so the forward pass never meets a tensor of the wrong size. */
#ifndef TINFER_MODEL_WEIGHTS_H
#define TINFER_MODEL_WEIGHTS_H

#include "backend/backend.h"
#include "model/arch_traits.h"
#include "model/model.h"

typedef struct tf_layer_weights {
    const float *attn_norm;
    tf_matrix wq, wk, wv, wo;
    const float *bq, *bk, *bv;    /* NULL without biases */
    const float *q_norm, *k_norm; /* head_dim each; NULL without QK-norm */
    const float *post_attn_norm;  /* NULL without post-norms */
    const float *ffn_norm;
    tf_matrix ffn_gate, ffn_up, ffn_down;
    const float *post_ffn_norm;
} tf_layer_weights;

typedef struct tf_weights {
    tf_matrix token_embd;
    tf_matrix output; /* the token embedding itself when the model ties them */
    const float *output_norm;
    const float *rope_freqs;  /* head_dim/2 Llama 3 frequency divisors, or NULL */
    tf_layer_weights *layers; /* n_layer */
    uint32_t n_layer;
    size_t max_row_elems;  /* longest matrix row (sizes dequantization scratch) */
    float *vector_storage; /* owns the float32 copies */
    size_t vector_floats;  /* ... and holds this many */
} tf_weights;

/* Binds every tensor the architecture needs. A missing tensor or one of the wrong shape gives
 * E_FORMAT naming it and the expected shape; a dtype without a kernel gives E_UNSUPPORTED. */
tinfer_status tf_weights_bind(const tinfer_model *model, const tf_arch_traits *traits,
                              tf_weights *out);
void tf_weights_free(tf_weights *weights);

#endif
