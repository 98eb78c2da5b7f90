/* Which backends this build has and which devices are present now. */
#include "backend/cpu/cpu_kernels.h"
#include "backend/cuda/cuda_device.h"
#include "tinfer/tinfer.h"

TINFER_API const char *tinfer_cpu_kernels(void) { return tf_cpu_kernels_select()->name; }

TINFER_API bool tinfer_has_cuda(void) { return TINFER_HAVE_CUDA != 0; }

TINFER_API int tinfer_cuda_device_count(void) {
#if TINFER_HAVE_CUDA
    return tf_cuda_device_count();
#else
    return 0;
#endif
}
