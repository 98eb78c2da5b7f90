/* The x86-64-v3 build of the CPU kernel table (see cpu_kernels.h): the same source as the generic
 * one with its AVX2 loops switched on, compiled with -mavx2 -mfma -mf16c so that fmaf() is one
 * instruction and the lane loops vectorise. Only called when the CPU reports AVX2, FMA and F16C.
 * TINFER_X86_KERNELS comes from lib/CMakeLists.txt, the one place that decides whether this
 * table is built. */
#if TINFER_X86_KERNELS
#define TF_KERNELS_NAME tf_cpu_kernels_x86_v3_table
#define TF_KERNELS_LABEL "x86-64-v3"
#define TF_KERNELS_AVX2 1
#include "backend/cpu/cpu_kernels_impl.h"
#else
typedef int tf_cpu_kernels_x86_v3_unused; /* not built (TINFER_X86_KERNELS=OFF) */
#endif
