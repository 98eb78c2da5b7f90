// CUDA device discovery: the path by which .cu code (compiled by nvcc) reaches the library.
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
