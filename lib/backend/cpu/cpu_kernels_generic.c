/* The portable build of the CPU kernel table (see cpu_kernels.h): plain C, fmaf() from libm.
 * Compiled in every build, whatever the compiler flags: it is the scalar reference the x86-64-v3
 * table is tested against (tests/unit/test_cpu_kernels.c). */
#define TF_KERNELS_NAME tf_cpu_kernels_generic_table
#define TF_KERNELS_LABEL "generic"
#define TF_KERNELS_AVX2 0
#include "backend/cpu/cpu_kernels_impl.h"
