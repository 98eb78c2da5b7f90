/* Per-architecture switches, and the hyper-parameter checks every forward pass relies on. */
#include "model/arch_traits.h"

#include <math.h>
#include <stdio.h>

#include "core/error.h"

static tinfer_status check_hparams(const tf_hparams *hp) {
    const struct {
        const char *name;
        uint32_t value;
    } required[] = {
        {"embedding_length", hp->n_embd},       {"block_count", hp->n_layer},
        {"attention.head_count", hp->n_head},   {"attention.head_count_kv", hp->n_head_kv},
        {"attention.key_length", hp->head_dim}, {"attention.value_length", hp->head_dim_v},
        {"feed_forward_length", hp->n_ff},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (required[i].value == 0)
            return tf_error(TINFER_E_FORMAT, "%s: hyper-parameter '%s' is missing or 0",
                            hp->arch_name, required[i].name);
    if (hp->head_dim % 2 != 0)
        return tf_error(TINFER_E_FORMAT, "%s: head_dim %u is odd (RoPE rotates pairs)",
                        hp->arch_name, hp->head_dim);
    /* Widths are products of header values: in 64 bits, and bounded, so that no 32-bit product
     * downstream can wrap into a shape that happens to match the tensors. */
    const uint64_t widths[] = {
        (uint64_t)hp->n_head * hp->head_dim, (uint64_t)hp->n_head * hp->head_dim_v,
        (uint64_t)hp->n_head_kv * hp->head_dim, (uint64_t)hp->n_head_kv * hp->head_dim_v};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
        if (widths[i] > TF_MAX_ROW_ELEMS)
            return tf_error(TINFER_E_FORMAT,
                            "%s: attention.head_count %u (kv %u) × key/value length %u/%u is "
                            "%llu elements, above the %u a row may have",
                            hp->arch_name, hp->n_head, hp->n_head_kv, hp->head_dim, hp->head_dim_v,
                            (unsigned long long)widths[i], TF_MAX_ROW_ELEMS);
    if (hp->n_embd > TF_MAX_ROW_ELEMS || hp->n_ff > TF_MAX_ROW_ELEMS)
        return tf_error(TINFER_E_FORMAT,
                        "%s: embedding_length %u or feed_forward_length %u is "
                        "above the %u elements a row may have",
                        hp->arch_name, hp->n_embd, hp->n_ff, TF_MAX_ROW_ELEMS);
    if (hp->n_head % hp->n_head_kv != 0)
        return tf_error(TINFER_E_FORMAT, "%s: %u KV heads do not divide %u query heads",
                        hp->arch_name, hp->n_head_kv, hp->n_head);
    if (!(hp->rms_norm_eps > 0) || !(hp->rope_freq_base > 0))
        return tf_error(TINFER_E_FORMAT, "%s: rms_norm_eps or rope.freq_base is missing",
                        hp->arch_name);
    return TINFER_OK;
}

tinfer_status tf_arch_traits_of(const tinfer_model *model, tf_arch_traits *out) {
    const tf_hparams *hp = &model->hparams;
    tf_arch_traits traits = {.rope_neox = true, .ffn_act = TF_FFN_SILU};
    switch (hp->arch) {
    case TF_ARCH_LLAMA:
        /* GGUF llama q/k rows are permuted by the converter for adjacent-pair RoPE; Hugging Face
         * checkpoints keep the original layout, which is the NEOX pairing. */
        traits.rope_neox = model->format != TINFER_FORMAT_GGUF;
        break;
    case TF_ARCH_QWEN2:
        traits.has_qkv_bias = true;
        break;
    case TF_ARCH_QWEN3:
        traits.has_qk_norm = true;
        break;
    case TF_ARCH_GEMMA3:
        traits.embed_scale = true;
        traits.has_qk_norm = true;
        traits.post_norms = true;
        traits.norm_plus_one = model->format != TINFER_FORMAT_GGUF;
        traits.ffn_act = TF_FFN_GELU_TANH;
        traits.swa_pattern = 6;
        traits.scale_q = true;
        break;
    default:
        return tf_error(
            TINFER_E_UNSUPPORTED,
            "architecture '%s' is not runnable (supported: gemma3, llama, qwen2, qwen3)",
            hp->arch_name);
    }
    tinfer_status status = check_hparams(hp);
    if (status != TINFER_OK) return status;
    /* Gemma scales queries by 1/sqrt(query_pre_attn_scalar): config.json says it; GGUF files do
     * not, and llama.cpp derives it from the size (n_embd / n_head for 27B, else head_dim). */
    const bool gemma_27b = hp->arch == TF_ARCH_GEMMA3 && hp->n_layer == 62;
    double scalar = gemma_27b ? (double)(hp->n_embd / hp->n_head) : (double)hp->head_dim;
    char key[160];
    snprintf(key, sizeof key, "%s.attention.query_pre_attn_scalar", hp->arch_name);
    double given;
    if (hp->arch == TF_ARCH_GEMMA3 && tf_meta_get_f64(&model->meta, key, &given) && given > 0)
        scalar = given;
    traits.attn_scale = (float)(1.0 / sqrt(scalar));
    snprintf(key, sizeof key, "%s.final_logit_softcapping", hp->arch_name);
    double cap;
    if (tf_meta_get_f64(&model->meta, key, &cap) && isfinite(cap) && cap > 0)
        traits.final_logit_softcap = (float)cap;
    *out = traits;
    return TINFER_OK;
}
