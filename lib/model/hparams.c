/* Hyper-parameters from "<arch>.*" metadata keys, with the defaults the reference engine applies.
 */
#include "model/hparams.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

enum { MAX_COUNT = 1u << 31 };

static const struct {
    const char *name;
    tf_arch arch;
} KNOWN_ARCHS[] = {
    {"llama", TF_ARCH_LLAMA},
    {"qwen2", TF_ARCH_QWEN2},
    {"qwen3", TF_ARCH_QWEN3},
    {"gemma3", TF_ARCH_GEMMA3},
};

static tf_arch arch_from_name(const char *name) {
    for (size_t i = 0; i < sizeof KNOWN_ARCHS / sizeof KNOWN_ARCHS[0]; i++)
        if (strcmp(name, KNOWN_ARCHS[i].name) == 0) return KNOWN_ARCHS[i].arch;
    return TF_ARCH_UNKNOWN;
}

/* Reads "<arch>.<suffix>" as a count in [0, 2^31]; leaves *out alone when absent. */
static tinfer_status read_count(const tf_metadata *meta, const char *arch, const char *suffix,
                                uint32_t *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const tf_meta_value *value = tf_meta_get(meta, key);
    if (!value) return TINFER_OK;
    uint64_t count;
    if (!tf_meta_get_u64(meta, key, &count))
        return tf_error(TINFER_E_FORMAT, "metadata '%s': expected a non-negative integer", key);
    if (count > MAX_COUNT)
        return tf_error(TINFER_E_FORMAT, "metadata '%s': %llu is out of range", key,
                        (unsigned long long)count);
    *out = (uint32_t)count;
    return TINFER_OK;
}

static tinfer_status read_positive_float(const tf_metadata *meta, const char *arch,
                                         const char *suffix, float *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (!tf_meta_get(meta, key)) return TINFER_OK;
    double number;
    if (!tf_meta_get_f64(meta, key, &number))
        return tf_error(TINFER_E_FORMAT, "metadata '%s': expected a number", key);
    if (!isfinite(number) || number <= 0 || number > 1e30)
        return tf_error(TINFER_E_FORMAT, "metadata '%s': %g is not a positive finite number", key,
                        number);
    *out = (float)number;
    return TINFER_OK;
}

static uint32_t vocab_size(const tf_metadata *meta, const tf_tensor_table *tensors) {
    const tf_meta_value *tokens = tf_meta_get(meta, "tokenizer.ggml.tokens");
    if (tokens && tokens->type == TINFER_META_ARRAY && tokens->as.array.n_elems <= MAX_COUNT)
        return (uint32_t)tokens->as.array.n_elems;
    const tf_tensor *embedding = tf_tensor_table_find(tensors, "token_embd.weight");
    if (!embedding) embedding = tf_tensor_table_find(tensors, "model.embed_tokens.weight");
    if (embedding && embedding->n_dims == 2 && embedding->shape[0] <= MAX_COUNT)
        return (uint32_t)embedding->shape[0];
    return 0;
}

static tinfer_status check_heads(const tf_hparams *hp, const char *arch) {
    if (hp->n_head_kv && (!hp->n_head || hp->n_head % hp->n_head_kv != 0))
        return tf_error(TINFER_E_FORMAT,
                        "metadata '%s.attention.head_count_kv': %u does not divide the %u "
                        "query heads",
                        arch, hp->n_head_kv, hp->n_head);
    return TINFER_OK;
}

static void apply_defaults(tf_hparams *hp) {
    if (hp->n_head && !hp->n_head_kv) hp->n_head_kv = hp->n_head;
    if (hp->n_head && !hp->head_dim && hp->n_embd % hp->n_head == 0)
        hp->head_dim = hp->n_embd / hp->n_head;
    if (!hp->head_dim_v) hp->head_dim_v = hp->head_dim;
    /* llama.cpp runs Gemma 3's sliding-window layers with RoPE base 10000 whatever the file says;
     * config.json names it rope_local_base_freq. */
    if (hp->arch == TF_ARCH_GEMMA3 && hp->rope_freq_base_local == 0)
        hp->rope_freq_base_local = 10000.0f;
}

tinfer_status tf_hparams_read(const tf_metadata *meta, const tf_tensor_table *tensors,
                              tf_hparams *out) {
    tf_hparams hp = {0};
    const char *arch = tf_meta_get_str(meta, "general.architecture");
    hp.arch_name = arch ? arch : "";
    hp.arch = arch ? arch_from_name(arch) : TF_ARCH_UNKNOWN;
    hp.n_vocab = vocab_size(meta, tensors);
    /* Only architectures we run are held to our ranges; others stay inspectable as they are. */
    if (hp.arch != TF_ARCH_UNKNOWN) {
        tinfer_status status;
        if ((status = read_count(meta, arch, "vocab_size", &hp.n_vocab)) ||
            (status = read_count(meta, arch, "context_length", &hp.n_ctx_train)) ||
            (status = read_count(meta, arch, "embedding_length", &hp.n_embd)) ||
            (status = read_count(meta, arch, "block_count", &hp.n_layer)) ||
            (status = read_count(meta, arch, "feed_forward_length", &hp.n_ff)) ||
            (status = read_count(meta, arch, "attention.head_count", &hp.n_head)) ||
            (status = read_count(meta, arch, "attention.head_count_kv", &hp.n_head_kv)) ||
            (status = read_count(meta, arch, "attention.key_length", &hp.head_dim)) ||
            (status = read_count(meta, arch, "attention.value_length", &hp.head_dim_v)) ||
            (status = read_count(meta, arch, "attention.sliding_window", &hp.sliding_window)) ||
            (status = read_positive_float(meta, arch, "attention.layer_norm_rms_epsilon",
                                          &hp.rms_norm_eps)) ||
            (status = read_positive_float(meta, arch, "rope.freq_base", &hp.rope_freq_base)) ||
            /* llama.cpp's name for the sliding-window layers' base, then ours from config.json */
            (status =
                 read_positive_float(meta, arch, "rope.freq_base_swa", &hp.rope_freq_base_local)) ||
            (status = read_positive_float(meta, arch, "rope.local_freq_base",
                                          &hp.rope_freq_base_local)) ||
            (status = check_heads(&hp, arch)))
            return status;
    }
    apply_defaults(&hp);
    *out = hp;
    return TINFER_OK;
}
