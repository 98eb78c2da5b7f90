/* RoPE frequency scaling of a model: linear position scaling (Gemma 3 4B and up, on its global
 * layers) and Llama 3's per-frequency divisors, from metadata when the file has no rope_freqs
 * tensor (Hugging Face checkpoints; GGUF converters write the tensor). */
#ifndef TINFER_MODEL_ROPE_SCALING_H
#define TINFER_MODEL_ROPE_SCALING_H

#include "model/model.h"

typedef struct tf_rope_scaling {
    float freq_scale;    /* multiplies every angle of global layers (1 / linear factor) */
    float *freq_factors; /* head_dim/2 Llama 3 divisors computed from metadata, or NULL */
} tf_rope_scaling;

/* Reads "<arch>.rope.scaling.*"; E_UNSUPPORTED for a scaling type we do not implement (yarn),
 * E_FORMAT for a missing or bad factor, E_NOMEM. need_factors: the model has no rope_freqs
 * tensor, so Llama 3 scaling must be computed here. */
tinfer_status tf_rope_scaling_read(const tinfer_model *model, bool need_factors,
                                   tf_rope_scaling *out);
void tf_rope_scaling_free(tf_rope_scaling *scaling);

#endif
