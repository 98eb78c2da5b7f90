/* The CUDA backend's factory entry: built only when the build has CUDA (TINFER_HAVE_CUDA). */
#ifndef TINFER_BACKEND_CUDA_CUDA_BACKEND_H
#define TINFER_BACKEND_CUDA_CUDA_BACKEND_H

#include "backend/backend.h"

/* A backend on CUDA device config->device_index. E_UNSUPPORTED when that device is not present,
 * and — until the CUDA kernels land — on every device, saying so. */
tinfer_status tf_backend_cuda_create(const tf_backend_config *config, tf_backend **out);

#endif
