// Weight rows in their file dtype times float activations: the decode step's products, and
// (looped over token tiles) a prompt's. Each warp takes one weight row; its lanes stride over the
// row's elements, decoding each through cuda_quant.h (the decoders the host tests hold to the
// reference bit for bit), and the lanes' float sums meet in a shuffle tree. A first, plain
// version: correct for every dtype cuda_quant.h knows, tuned on nothing (no GPU was at hand when
// it was written; see doc/architecture.md, "CUDA").
#include <cuda_runtime.h>

#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_quant.h"

namespace {

constexpr uint32_t kWarp = 32;
constexpr uint32_t kWarpsPerBlock = 8;
constexpr uint32_t kTokensPerPass = 8;  // activation rows one warp sums at once (registers)

template <int Dtype>
__global__ void matvec_kernel(const uint8_t *w, size_t row_bytes, uint32_t n_rows,
                              uint32_t n_cols, const float *x, uint32_t n_tokens, float *y) {
    const uint32_t row = blockIdx.x * kWarpsPerBlock + threadIdx.x / kWarp;
    const uint32_t lane = threadIdx.x % kWarp;
    const uint32_t t0 = blockIdx.y * kTokensPerPass;
    if (row >= n_rows) return;  // whole warps only: the shuffles below see every lane
    const uint32_t n_t = n_tokens - t0 < kTokensPerPass ? n_tokens - t0 : kTokensPerPass;
    const uint8_t *w_row = w + (size_t)row * row_bytes;
    float acc[kTokensPerPass] = {};
    for (uint32_t e = lane; e < n_cols; e += kWarp) {
        const float v = tfc_decode(Dtype, w_row, e);
#pragma unroll
        for (uint32_t t = 0; t < kTokensPerPass; t++)
            if (t < n_t) acc[t] += v * x[(size_t)(t0 + t) * n_cols + e];
    }
#pragma unroll
    for (uint32_t t = 0; t < kTokensPerPass; t++) {
        float sum = acc[t];
        for (uint32_t offset = kWarp / 2; offset > 0; offset /= 2)
            sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
        if (lane == 0 && t < n_t) y[(size_t)(t0 + t) * n_rows + row] = sum;
    }
}

template <int Dtype>
int launch(const void *w, size_t row_bytes, uint32_t n_rows, uint32_t n_cols, const float *x,
           uint32_t n_tokens, float *y, cudaStream_t stream) {
    const dim3 grid((n_rows + kWarpsPerBlock - 1) / kWarpsPerBlock,
                    (n_tokens + kTokensPerPass - 1) / kTokensPerPass);
    matvec_kernel<Dtype><<<grid, kWarpsPerBlock * kWarp, 0, stream>>>(
        static_cast<const uint8_t *>(w), row_bytes, n_rows, n_cols, x, n_tokens, y);
    return static_cast<int>(cudaGetLastError());
}

}  // namespace

extern "C" int tfc_matvec(int dtype, const void *w, size_t row_bytes, uint32_t n_rows,
                          uint32_t n_cols, const float *x, uint32_t n_tokens, float *y,
                          void *stream_arg) {
    if (n_rows == 0 || n_tokens == 0) return 0;
    cudaStream_t stream = static_cast<cudaStream_t>(stream_arg);
#define TFC_CASE(D) \
    case D:         \
        return launch<D>(w, row_bytes, n_rows, n_cols, x, n_tokens, y, stream);
    switch (dtype) {
        TFC_DECODED_DTYPES(TFC_CASE)
    default:
        return TFC_E_DTYPE;
    }
#undef TFC_CASE
}
