/* Architecture hyper-parameters, read from metadata under GGUF key names (config.json is mapped
 * onto the same names by the format layer, so this is the only reader). */
#ifndef TINFER_MODEL_HPARAMS_H
#define TINFER_MODEL_HPARAMS_H

#include <stdint.h>

#include "format/metadata.h"
#include "format/tensor_table.h"

typedef enum tf_arch {
    TF_ARCH_UNKNOWN = 0, /* any other architecture: loadable and inspectable, not runnable */
    TF_ARCH_LLAMA,
    TF_ARCH_QWEN2,
    TF_ARCH_QWEN3,
    TF_ARCH_GEMMA3
} tf_arch;

typedef struct tf_hparams {
    tf_arch arch;
    const char *arch_name; /* general.architecture, owned by the metadata; "" when absent */
    uint32_t n_vocab;
    uint32_t n_ctx_train;
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;
    uint32_t head_dim_v;
    uint32_t n_ff;
    uint32_t sliding_window;
    float rms_norm_eps;
    float rope_freq_base;
    float rope_freq_base_local;
} tf_hparams;

/* Fills *out from metadata (and the tensor table for the vocabulary size when metadata lacks it).
 * Absent values are 0; present values outside sane ranges (zero heads, head counts that do not
 * divide, negative or non-finite floats, counts above 2^31) give E_FORMAT naming the key. */
tinfer_status tf_hparams_read(const tf_metadata *meta, const tf_tensor_table *tensors,
                              tf_hparams *out);

#endif
