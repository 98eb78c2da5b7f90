/* CUDA device discovery, implemented in cuda_device.cu (built only when the build has CUDA). */
#ifndef TINFER_BACKEND_CUDA_DEVICE_H
#define TINFER_BACKEND_CUDA_DEVICE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Devices usable now; 0 when the driver or a GPU is missing (never fails). */
int tf_cuda_device_count(void);

/* Runs a tiny kernel (adds two vectors of n floats on the device) and copies the result to out:
 * proves that kernels compile, link and launch. Returns 0 on success, a cudaError_t otherwise. */
int tf_cuda_vector_add(const float *a, const float *b, float *out, int n);

#ifdef __cplusplus
}
#endif
#endif
