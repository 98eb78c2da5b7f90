// The CUDA backend's row-wise and element-wise ops: RMSNorm, RoPE, the gated FFN activation, the
// residual add, bias, scaling, logit soft-capping, embedding rows and the gather of output rows.
// Float32 throughout, in the formulas of the CPU path (backend/cpu/cpu_elementwise.c,
// cpu_rope.c) but not its bit-exact orders: tests/unit/test_cuda_ops.c holds each to a
// double-precision reference within a stated bound on a machine with a GPU. Not run yet: no GPU
// was lent when they were written.
#include <cuda_runtime.h>

#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_quant.h"

namespace {

constexpr uint32_t kThreads = 256;

uint32_t blocks_for(size_t n) { return (uint32_t)((n + kThreads - 1) / kThreads); }

int launched() { return static_cast<int>(cudaGetLastError()); }

// One block per row: the sum of squares reduced through shared memory.
__global__ void rmsnorm_kernel(const float *x, const float *weight, float eps, uint32_t width,
                               float *out) {
    __shared__ float partial[kThreads];
    const float *row = x + (size_t)blockIdx.x * width;
    float sum = 0.0f;
    for (uint32_t i = threadIdx.x; i < width; i += kThreads) sum += row[i] * row[i];
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (uint32_t half = kThreads / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    const float scale = rsqrtf(partial[0] / (float)width + eps);
    float *dst = out + (size_t)blockIdx.x * width;
    for (uint32_t i = threadIdx.x; i < width; i += kThreads) dst[i] = row[i] * scale * weight[i];
}

// One thread per rotating pair (token, head, i < n_rot / 2).
__global__ void rope_kernel(float *x, const int32_t *positions, uint32_t n_tokens,
                            uint32_t n_heads, uint32_t head_dim, tfc_rope_args rope) {
    const uint32_t half = rope.n_rot / 2;
    const size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)n_tokens * n_heads * half) return;
    const uint32_t i = (uint32_t)(id % half);
    const size_t head = id / half, token = head / n_heads;
    float theta = (float)positions[token] * powf(rope.freq_base, -2.0f * (float)i / (float)rope.n_rot);
    if (rope.freq_factors) theta /= rope.freq_factors[i];
    theta *= rope.freq_scale;
    float sin_t, cos_t;
    sincosf(theta, &sin_t, &cos_t);
    float *h = x + head * head_dim;
    const uint32_t a = rope.neox ? i : 2 * i, b = rope.neox ? i + half : 2 * i + 1;
    const float x0 = h[a], x1 = h[b];
    h[a] = x0 * cos_t - x1 * sin_t;
    h[b] = x0 * sin_t + x1 * cos_t;
}

__global__ void ffn_gate_kernel(int act, size_t n, float *gate, const float *up) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float g = gate[i];
    float a;
    if (act == TFC_ACT_SILU) {
        a = g / (1.0f + expf(-g));
    } else {
        const float sqrt_2_over_pi = 0.79788456080286535588f;
        a = 0.5f * g * (1.0f + tanhf(sqrt_2_over_pi * g * (1.0f + 0.044715f * g * g)));
    }
    gate[i] = a * up[i];
}

__global__ void add_kernel(size_t n, float *y, const float *x) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += x[i];
}

__global__ void add_bias_kernel(size_t n, uint32_t width, float *y, const float *bias) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += bias[i % width];
}

__global__ void scale_kernel(size_t n, float *y, float factor) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] *= factor;
}

__global__ void softcap_kernel(size_t n, float *y, float cap) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = cap * tanhf(y[i] / cap);
}

template <int Dtype>
__global__ void embed_kernel(const uint8_t *w, size_t row_bytes, uint32_t n_cols,
                             const int32_t *tokens, uint32_t n_tokens, float *out) {
    const size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)n_tokens * n_cols) return;
    const size_t t = id / n_cols;
    const uint32_t e = (uint32_t)(id % n_cols);
    out[id] = tfc_decode(Dtype, w + (size_t)tokens[t] * row_bytes, e);
}

__global__ void gather_rows_kernel(const float *x, uint32_t width, const uint32_t *rows,
                                   uint32_t n_rows, float *out) {
    const size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)n_rows * width) return;
    out[id] = x[(size_t)rows[id / width] * width + id % width];
}

template <int Dtype>
int launch_embed(const void *w, size_t row_bytes, uint32_t n_cols, const int32_t *tokens,
                 uint32_t n_tokens, float *out, cudaStream_t stream) {
    embed_kernel<Dtype><<<blocks_for((size_t)n_tokens * n_cols), kThreads, 0, stream>>>(
        static_cast<const uint8_t *>(w), row_bytes, n_cols, tokens, n_tokens, out);
    return launched();
}

}  // namespace

extern "C" int tfc_rmsnorm(const float *x, const float *weight, float eps, uint32_t n_rows,
                           uint32_t width, float *out, void *stream) {
    if (n_rows == 0) return 0;
    rmsnorm_kernel<<<n_rows, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, weight, eps,
                                                                             width, out);
    return launched();
}

extern "C" int tfc_rope(float *x, const int32_t *positions, uint32_t n_tokens, uint32_t n_heads,
                        uint32_t head_dim, const tfc_rope_args *rope, void *stream) {
    const size_t n = (size_t)n_tokens * n_heads * (rope->n_rot / 2);
    if (n == 0) return 0;
    rope_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        x, positions, n_tokens, n_heads, head_dim, *rope);
    return launched();
}

extern "C" int tfc_ffn_gate(int act, size_t n, float *gate, const float *up, void *stream) {
    if (n == 0) return 0;
    ffn_gate_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(act, n,
                                                                                     gate, up);
    return launched();
}

extern "C" int tfc_add(size_t n, float *y, const float *x, void *stream) {
    if (n == 0) return 0;
    add_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(n, y, x);
    return launched();
}

extern "C" int tfc_add_bias(size_t n, uint32_t width, float *y, const float *bias, void *stream) {
    if (n == 0) return 0;
    add_bias_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(n, width,
                                                                                     y, bias);
    return launched();
}

extern "C" int tfc_scale(size_t n, float *y, float factor, void *stream) {
    if (n == 0) return 0;
    scale_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(n, y, factor);
    return launched();
}

extern "C" int tfc_softcap(size_t n, float *y, float cap, void *stream) {
    if (n == 0) return 0;
    softcap_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(n, y, cap);
    return launched();
}

extern "C" int tfc_embed(int dtype, const void *w, size_t row_bytes, uint32_t n_cols,
                         const int32_t *tokens, uint32_t n_tokens, float *out, void *stream_arg) {
    if (n_tokens == 0) return 0;
    cudaStream_t stream = static_cast<cudaStream_t>(stream_arg);
#define TFC_CASE(D) \
    case D:         \
        return launch_embed<D>(w, row_bytes, n_cols, tokens, n_tokens, out, stream);
    switch (dtype) {
        TFC_DECODED_DTYPES(TFC_CASE)
    default:
        return TFC_E_DTYPE;
    }
#undef TFC_CASE
}

extern "C" int tfc_gather_rows(const float *x, uint32_t width, const uint32_t *rows,
                               uint32_t n_rows, float *out, void *stream) {
    const size_t n = (size_t)n_rows * width;
    if (n == 0) return 0;
    gather_rows_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        x, width, rows, n_rows, out);
    return launched();
}
