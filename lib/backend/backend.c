/* The backend factory: the device a context asked for, or a clear reason why not. */
#include "backend/backend.h"

#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/cuda_backend.h"
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
