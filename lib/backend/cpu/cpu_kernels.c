/* Which CPU kernel table runs: x86-64-v3 when it was built and the CPU has AVX2, FMA and F16C,
 * else generic; TINFER_FORCE_GENERIC=1 forces the generic one (tests run the golden model both
 * ways). Whether the x86-64-v3 table exists at all is decided once, by TINFER_X86_KERNELS in
 * lib/CMakeLists.txt; everything here follows that definition. */
#include "backend/cpu/cpu_kernels.h"

#include <stdlib.h>
#include <string.h>

#include "core/cpu_features.h"

#ifndef TINFER_X86_KERNELS
#error "TINFER_X86_KERNELS (0 or 1) comes from lib/CMakeLists.txt"
#endif

extern const tf_cpu_kernels tf_cpu_kernels_generic_table;
#if TINFER_X86_KERNELS
extern const tf_cpu_kernels tf_cpu_kernels_x86_v3_table;
#endif

const tf_cpu_kernels *tf_cpu_kernels_generic(void) { return &tf_cpu_kernels_generic_table; }

bool tf_cpu_kernels_x86_v3_built(void) { return TINFER_X86_KERNELS != 0; }

const tf_cpu_kernels *tf_cpu_kernels_x86_v3(void) {
#if TINFER_X86_KERNELS
    const tf_cpu_features *cpu = tf_cpu_features_get();
    if (cpu->avx2 && cpu->fma && cpu->f16c) return &tf_cpu_kernels_x86_v3_table;
#endif
    return NULL;
}

const tf_cpu_kernels *tf_cpu_kernels_select(void) {
    const char *force = getenv("TINFER_FORCE_GENERIC");
    if (force && *force && strcmp(force, "0") != 0) return tf_cpu_kernels_generic();
    const tf_cpu_kernels *fast = tf_cpu_kernels_x86_v3();
    return fast ? fast : tf_cpu_kernels_generic();
}

tf_qdot_fn tf_cpu_qdot_of(const tf_cpu_kernels *k, tinfer_dtype dtype, uint32_t n_rows,
                          size_t n_tokens, size_t t) {
    const bool tiled = n_tokens >= 8; /* ggml_tiled_min_batch */
    switch (dtype) {
    case TINFER_DTYPE_Q4_0: /* repacked (8-row multiple): one order for gemv and gemm */
        return n_rows % 8 == 0 ? k->q4_0_rows : k->q4_0;
    case TINFER_DTYPE_Q5_0:
        return k->q5_0;
    case TINFER_DTYPE_Q8_0:
        return k->q8_0;
    case TINFER_DTYPE_Q4_K:
        if (n_rows % 8 == 0) /* repacked: gemm over groups of 4 tokens, gemv for the rest */
            return t < n_tokens - n_tokens % 4 ? k->q4_k_rows4 : k->q4_k_rows;
        return tiled ? k->q4_k_tiled : k->q4_k;
    case TINFER_DTYPE_Q5_K:
        return tiled ? k->q5_k_tiled : k->q5_k;
    case TINFER_DTYPE_Q6_K:
        return tiled ? k->q6_k_tiled : k->q6_k;
    default:
        return NULL;
    }
}

tf_qdot4_fn tf_cpu_qdot4_of(const tf_cpu_kernels *k, tf_qdot_fn single) {
    if (single == k->q5_0) return k->q5_0_x4;
    if (single == k->q8_0) return k->q8_0_x4;
    if (single == k->q4_k_rows4) return k->q4_k_rows4_x4;
    if (single == k->q6_k_tiled) return k->q6_k_tiled_x4;
    return NULL;
}
