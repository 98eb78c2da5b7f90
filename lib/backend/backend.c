/* The backend factory (the device a context asked for, or a clear reason why not) and the checks
 * and sizes every backend shares. */
#include "backend/backend.h"

#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/cuda_backend.h"
#include "core/checked.h"
#include "core/error.h"

tinfer_status tf_backend_create(const tf_backend_config *config, tf_backend **out) {
    switch (config->device) {
    case TINFER_DEVICE_CPU:
        if (config->device_index != 0)
            return tf_error(TINFER_E_UNSUPPORTED,
                            "device_index %d: the CPU backend has one device, index 0",
                            (int)config->device_index);
        return tf_backend_cpu_create(config, out);
    case TINFER_DEVICE_CUDA:
#if TINFER_HAVE_CUDA
        return tf_backend_cuda_create(config, out);
#else
        return tf_error(TINFER_E_UNSUPPORTED,
                        "TINFER_DEVICE_CUDA: this library was built without the CUDA backend "
                        "(configure with -DTINFER_CUDA=ON where nvcc is installed)");
#endif
    }
    return tf_error(TINFER_E_INVALID_ARG, "unknown device kind %d", (int)config->device);
}

void tf_backend_destroy(tf_backend *be) {
    if (be) be->ops->destroy(be);
}

tinfer_status tf_backend_check_step(const char *name, const tf_backend_config *config,
                                    uint32_t blocks_per_seq, const tf_step *step) {
    if (step->n_tokens == 0 || step->n_tokens > config->n_batch || step->n_out > step->n_tokens ||
        step->n_seqs == 0 || step->n_seqs > config->n_seq_max ||
        step->n_table_blocks > blocks_per_seq)
        return tf_error(TINFER_E_INVALID_ARG,
                        "%s: a pass of %u tokens (%u out) over %u sequences does not fit the "
                        "backend (%u tokens, %u sequences)",
                        name, step->n_tokens, step->n_out, step->n_seqs, config->n_batch,
                        config->n_seq_max);
    return TINFER_OK;
}

tinfer_status tf_backend_check_out_rows(const char *name, uint32_t first, uint32_t count,
                                        uint32_t n_out) {
    if (count == 0 || first > n_out || count > n_out - first)
        return tf_error(TINFER_E_INVALID_ARG,
                        "%s: output rows [%u, %u + %u) are outside the pass's %u", name, first,
                        first, count, n_out);
    return TINFER_OK;
}

tinfer_status tf_kv_layer_bytes(const tf_kv_geometry *g, uint32_t l, size_t k_row_bytes,
                                size_t v_row_bytes, size_t block_pad, size_t *k_bytes,
                                size_t *v_bytes) {
    size_t k_block, v_block;
    if (!tinfer_mul_size(k_row_bytes, TF_KV_BLOCK_TOKENS, &k_block) ||
        !tinfer_add_size(k_block, block_pad, &k_block) ||
        !tinfer_mul_size(v_row_bytes, TF_KV_BLOCK_TOKENS, &v_block) ||
        !tinfer_add_size(v_block, block_pad, &v_block) ||
        !tinfer_mul_size(g->layer_blocks[l], k_block, k_bytes) ||
        !tinfer_mul_size(g->layer_blocks[l], v_block, v_bytes))
        return tf_error(TINFER_E_INVALID_ARG, "kv cache: size overflows");
    return TINFER_OK;
}
