/* The x86-64-v3 build of the CPU kernel table (see cpu_kernels.h): the same source as the generic
 * one, compiled with -mavx2 -mfma -mf16c (lib/CMakeLists.txt) so that fmaf() is one instruction
 * and the lane loops vectorise. Only called when the CPU reports AVX2, FMA and F16C. */
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#define TF_KERNELS_NAME tf_cpu_kernels_x86_v3_table
#define TF_KERNELS_LABEL "x86-64-v3"
#include "backend/cpu/cpu_kernels_impl.h"
#else
typedef int tf_cpu_kernels_x86_v3_unused; /* not an x86-64 build: nothing to compile */
#endif
