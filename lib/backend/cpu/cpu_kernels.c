/* Which CPU kernel table runs (the rules are in cpu_kernels.h): the best one built and supported,
 * or the one TINFER_CPU (or TINFER_FORCE_GENERIC) names. Whether the x86-64-v3 and AVX-512 tables
 * exist at all is decided once, by TINFER_X86_KERNELS and TINFER_AVX512_KERNELS from
 * lib/CMakeLists.txt; everything here follows those definitions. */
#include "backend/cpu/cpu_kernels.h"

#include <stdlib.h>
#include <string.h>

#include "core/cpu_features.h"

#ifndef TINFER_X86_KERNELS
#error "TINFER_X86_KERNELS (0 or 1) comes from lib/CMakeLists.txt"
#endif
#ifndef TINFER_AVX512_KERNELS
#error "TINFER_AVX512_KERNELS (0 or 1) comes from lib/CMakeLists.txt"
#endif

extern const tf_cpu_kernels tf_cpu_kernels_generic_table;
#if TINFER_X86_KERNELS
extern const tf_cpu_kernels tf_cpu_kernels_x86_v3_table;
#endif
#if TINFER_AVX512_KERNELS
extern const tf_cpu_kernels tf_cpu_kernels_avx512_table;
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

bool tf_cpu_kernels_avx512_built(void) { return TINFER_AVX512_KERNELS != 0; }

const tf_cpu_kernels *tf_cpu_kernels_avx512(void) {
#if TINFER_AVX512_KERNELS
    const tf_cpu_features *cpu = tf_cpu_features_get();
    if (cpu->avx2 && cpu->fma && cpu->f16c && cpu->avx512f && cpu->avx512bw && cpu->avx512vl &&
        cpu->avx512_vnni)
        return &tf_cpu_kernels_avx512_table;
#endif
    return NULL;
}

tf_cpu_path tf_cpu_path_requested(void) {
    const char *force = getenv("TINFER_FORCE_GENERIC");
    if (force && *force && strcmp(force, "0") != 0) return TF_CPU_PATH_GENERIC;
    const char *name = getenv("TINFER_CPU");
    if (!name) return TF_CPU_PATH_AUTO;
    if (strcmp(name, "generic") == 0) return TF_CPU_PATH_GENERIC;
    if (strcmp(name, "avx2") == 0) return TF_CPU_PATH_AVX2;
    if (strcmp(name, "avx512") == 0) return TF_CPU_PATH_AVX512;
    return TF_CPU_PATH_AUTO; /* unset, empty, "auto" or unknown: the default */
}

const tf_cpu_kernels *tf_cpu_kernels_for(tf_cpu_path path) {
    const tf_cpu_kernels *avx512 = tf_cpu_kernels_avx512(), *avx2 = tf_cpu_kernels_x86_v3();
    switch (path) {
    case TF_CPU_PATH_GENERIC:
        return tf_cpu_kernels_generic();
    case TF_CPU_PATH_AVX2:
        return avx2 ? avx2 : tf_cpu_kernels_generic();
    case TF_CPU_PATH_AVX512:
    case TF_CPU_PATH_AUTO:
    default:
        return avx512 ? avx512 : avx2 ? avx2 : tf_cpu_kernels_generic();
    }
}

const tf_cpu_kernels *tf_cpu_kernels_select(void) {
    return tf_cpu_kernels_for(tf_cpu_path_requested());
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
    if (single == k->q4_k_rows) return k->q4_k_rows_x4;
    if (single == k->q6_k) return k->q6_k_x4;
    return NULL;
}

tf_qdot_rows4_fn tf_cpu_qdot_rows4_of(const tf_cpu_kernels *k, tf_qdot_fn single) {
    return single == k->q8_0 ? k->q8_0_rows4 : NULL;
}

tf_qgemm_fn tf_cpu_qgemm_of(const tf_cpu_kernels *k, tf_qdot_fn single) {
    if (single == k->q5_0) return k->q5_0_gemm;
    if (single == k->q8_0) return k->q8_0_gemm;
    if (single == k->q4_k_rows4) return k->q4_k_rows4_gemm;
    if (single == k->q4_k_rows) return k->q4_k_rows_gemm;
    if (single == k->q6_k_tiled) return k->q6_k_tiled_gemm;
    return NULL;
}

bool tf_cpu_kernels_read_packed(const tf_cpu_kernels *k) { return k->packs != 0; }

bool tf_cpu_packs_dtype(unsigned packs, tinfer_dtype dtype) {
    switch (dtype) {
    case TINFER_DTYPE_Q5_0:
        return (packs & (TF_PACKS_Q5_0 | TF_PACKS_Q5_0_AVX2)) != 0;
    case TINFER_DTYPE_Q8_0:
        return (packs & TF_PACKS_Q8_0) != 0;
    case TINFER_DTYPE_Q4_K:
        return (packs & TF_PACKS_Q4_K) != 0;
    default:
        return false;
    }
}

bool tf_cpu_kernels_have_gemm(const tf_cpu_kernels *k) {
    return k->q5_0_gemm || k->q8_0_gemm || k->q4_k_rows4_gemm || k->q4_k_rows_gemm ||
           k->q6_k_tiled_gemm;
}
