/* CUDA device discovery, implemented in cuda_device.cu (built only when the build has CUDA). */
#ifndef TINFER_BACKEND_CUDA_DEVICE_H
#define TINFER_BACKEND_CUDA_DEVICE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Devices usable now; 0 when the driver or a GPU is missing (never fails). */
int tf_cuda_device_count(void);

#ifdef __cplusplus
}
#endif
#endif
