// CUDA device discovery and a smoke-test kernel: the path by which .cu code reaches the library.
#include <cuda_runtime.h>

#include "backend/cuda/cuda_device.h"

extern "C" int tf_cuda_device_count(void) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky "no device" error for later calls
        return 0;
    }
    return count;
}

// One thread per element; coalesced reads of a and b, coalesced write of out.
__global__ static void vector_add_kernel(const float *a, const float *b, float *out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}

extern "C" int tf_cuda_vector_add(const float *a, const float *b, float *out, int n) {
    size_t bytes = (size_t)n * sizeof(float);
    float *dev = nullptr;
    cudaError_t err = cudaMalloc(&dev, 3 * bytes);
    if (err != cudaSuccess) return (int)err;
    float *dev_a = dev, *dev_b = dev + n, *dev_out = dev + 2 * (size_t)n;
    if ((err = cudaMemcpy(dev_a, a, bytes, cudaMemcpyHostToDevice)) == cudaSuccess &&
        (err = cudaMemcpy(dev_b, b, bytes, cudaMemcpyHostToDevice)) == cudaSuccess) {
        vector_add_kernel<<<(n + 255) / 256, 256>>>(dev_a, dev_b, dev_out, n);
        if ((err = cudaGetLastError()) == cudaSuccess)
            err = cudaMemcpy(out, dev_out, bytes, cudaMemcpyDeviceToHost);
    }
    cudaFree(dev);
    return (int)err;
}
