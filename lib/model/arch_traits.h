/* What differs between the architectures we run, as a handful of named switches the one forward
 * pass reads (see forward.c). */
#ifndef TINFER_MODEL_ARCH_TRAITS_H
#define TINFER_MODEL_ARCH_TRAITS_H

#include <stdbool.h>

#include "backend/backend.h"
#include "model/model.h"

/* The longest row (model width, FFN width, all heads of q, k or v together) a runnable model may
 * have: 2^20, some 50× the widest published models, so that sizes computed from header values
 * stay far from overflow. */
#define TF_MAX_ROW_ELEMS (1u << 20)

typedef struct tf_arch_traits {
    bool embed_scale;     /* multiply embeddings by sqrt(n_embd) (Gemma) */
    bool has_qk_norm;     /* RMSNorm over each query and key head before RoPE (Gemma 3, Qwen 3) */
    bool has_qkv_bias;    /* q/k/v projections carry biases (Qwen 2) — required, not optional */
    bool post_norms;      /* RMSNorm after attention and after the FFN, before the residual add */
    bool norm_plus_one;   /* norm weights are stored as w and used as 1 + w (Gemma checkpoints
                             from Hugging Face; GGUF converters fold the 1 in) */
    bool rope_neox;       /* rotate pairs (i, i + d/2); false: adjacent pairs (llama GGUF, whose
                             converter permuted q/k rows to match) */
    tf_ffn_act ffn_act;   /* GELU-tanh (Gemma) or SiLU gate */
    unsigned swa_pattern; /* 0: no sliding window; N: layer il is global when (il+1) % N == 0,
                             every other layer attends to the last sliding_window positions */
    float attn_scale;     /* multiplies q·k */
    bool scale_q;         /* apply attn_scale to the queries before attention, not to q·k
                           * (Gemma, as llama.cpp does: it rounds differently through float16) */
    float final_logit_softcap; /* logits = cap · tanh(logits / cap) when > 0 (Gemma 2 style) */
} tf_arch_traits;

/* Traits of a loaded model; E_UNSUPPORTED for an architecture we do not run, E_FORMAT for
 * hyper-parameters a forward pass cannot use (zero sizes, odd head_dim), naming the field. */
tinfer_status tf_arch_traits_of(const tinfer_model *model, tf_arch_traits *out);

/* Whether layer il attends through the sliding window. */
static inline bool tf_layer_is_swa(const tf_arch_traits *traits, unsigned il, unsigned window) {
    return window > 0 && traits->swa_pattern > 0 && (il + 1) % traits->swa_pattern != 0;
}

#endif
