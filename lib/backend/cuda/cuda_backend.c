/* The CUDA backend behind the seam of backend.h. The device is found and checked here; the
 * forward pass's kernels (weights uploaded once per model and device, the decode step captured
 * as a CUDA graph) are the CUDA backend issue's work, so a context asking for a present device is
 * refused with E_UNSUPPORTED rather than given a half-working backend. */
#include "backend/cuda/cuda_backend.h"

#include "backend/cuda/cuda_device.h"
#include "core/error.h"

tinfer_status tf_backend_cuda_create(const tf_backend_config *config, tf_backend **out) {
    (void)out;
    const int n_devices = tf_cuda_device_count();
    if (config->device_index >= n_devices)
        return tf_error(TINFER_E_UNSUPPORTED,
                        "TINFER_DEVICE_CUDA: device_index %d, but %d CUDA device%s usable here",
                        (int)config->device_index, n_devices, n_devices == 1 ? " is" : "s are");
    return tf_error(TINFER_E_UNSUPPORTED,
                    "TINFER_DEVICE_CUDA: CUDA device %d is present, but this version has no CUDA "
                    "forward pass yet (only the CPU backend runs models)",
                    (int)config->device_index);
}
