/* The portable build of the CPU kernel table (see cpu_kernels.h): plain C, fmaf() from libm. */
#define TF_KERNELS_NAME tf_cpu_kernels_generic_table
#define TF_KERNELS_LABEL "generic"
#include "backend/cpu/cpu_kernels_impl.h"
