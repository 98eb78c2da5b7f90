/* What this CPU can run, read once from CPUID (and XGETBV: the OS must save the wider registers
 * too). Plain CPUID, not __builtin_cpu_supports, so gcc and clang build it alike (clang 14 has no
 * "f16c" there). Everything is false on other architectures. */
#ifndef TINFER_CORE_CPU_FEATURES_H
#define TINFER_CORE_CPU_FEATURES_H

#include <stdbool.h>

typedef struct tf_cpu_features {
    bool avx2, fma, f16c;             /* x86-64-v3's extras over v2 (with the OS saving YMM) */
    bool avx512f, avx512bw, avx512vl; /* x86-64-v4 (with the OS saving ZMM and mask registers) */
    bool avx512_vnni, avx512_bf16;
} tf_cpu_features;

/* The features of the CPU this runs on; computed on first use, then constant. */
const tf_cpu_features *tf_cpu_features_get(void);

#endif
