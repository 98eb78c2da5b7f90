// The KV cache on the device: the K/V writes of a pass and attention over each token's span, in
// the CPU's block layout (backend.h: position p of a sequence lives in slot
// table[p / TF_KV_BLOCK_TOKENS] · TF_KV_BLOCK_TOKENS + p % TF_KV_BLOCK_TOKENS of its layer) and
// its element types (F32, F16, Q8_0). Attention is one thread block per (token, query head): the
// span in tiles of kThreads positions, an online softmax (running maximum and sum, the partial
// sums rescaled as the maximum grows), each thread owning a few value dimensions. A first, plain
// version, not run yet: no GPU was lent when it was written.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_quant.h"

namespace {

constexpr uint32_t kThreads = 128;
constexpr uint32_t kMaxDimsPerThread = TFC_ATTN_MAX_HEAD_DIM / kThreads;

// Bytes from a row's start to element e's block (the head slices of a row are whole blocks).
__device__ size_t elem_bytes(int dtype, uint32_t e) {
    switch (dtype) {
    case TINFER_DTYPE_F32: return 4 * (size_t)e;
    case TINFER_DTYPE_F16: return 2 * (size_t)e;
    default: return (size_t)(e / 32) * TFC_Q8_0_BYTES;  // Q8_0
    }
}

__device__ const uint8_t *kv_row(const uint8_t *storage, size_t row_bytes, const uint32_t *table,
                                 uint32_t pos) {
    const size_t slot = (size_t)table[pos / TFC_KV_BLOCK_TOKENS] * TFC_KV_BLOCK_TOKENS +
                        pos % TFC_KV_BLOCK_TOKENS;
    return storage + slot * row_bytes;
}

// One thread per (token, row, block of 32 elements): F32 and F16 elements, or a Q8_0 block.
__global__ void store_kernel(tfc_kv_layer layer, tfc_pass_view pass, int value,
                             const float *src, uint32_t row_elems) {
    const uint32_t n_blocks = row_elems / 32;
    const size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (size_t)pass.n_tokens * n_blocks) return;
    const uint32_t t = (uint32_t)(id / n_blocks), b = (uint32_t)(id % n_blocks);
    const uint32_t *table = pass.tables + (size_t)pass.token_seq[t] * pass.blocks_per_seq;
    const size_t row_bytes = value ? layer.v_row_bytes : layer.k_row_bytes;
    uint8_t *row = const_cast<uint8_t *>(
        kv_row(value ? layer.v : layer.k, row_bytes, table, (uint32_t)pass.positions[t]));
    const float *x = src + (size_t)t * row_elems + 32 * (size_t)b;
    if (layer.dtype == TINFER_DTYPE_Q8_0) {  // ggml's quantize_row_q8_0
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        // the CPU's scale (cpu_qdot.c), so that both backends store the same codes
        const float d = amax / 127.0f, id_ = amax != 0.0f ? 127.0f / amax : 0.0f;
        uint8_t *block = row + (size_t)b * TFC_Q8_0_BYTES;
        const __half half_d = __float2half_rn(d);
        const unsigned short bits = __half_as_ushort(half_d);
        block[0] = (uint8_t)bits;
        block[1] = (uint8_t)(bits >> 8);
        for (int i = 0; i < 32; i++)
            block[TFC_Q8_0_QS + i] = (uint8_t)(int8_t)__float2int_rn(x[i] * id_);
    } else if (layer.dtype == TINFER_DTYPE_F16) {
        for (int i = 0; i < 32; i++) {
            const unsigned short bits = __half_as_ushort(__float2half_rn(x[i]));
            row[2 * (32 * (size_t)b + i)] = (uint8_t)bits;
            row[2 * (32 * (size_t)b + i) + 1] = (uint8_t)(bits >> 8);
        }
    } else {
        float *dst = reinterpret_cast<float *>(row) + 32 * (size_t)b;
        for (int i = 0; i < 32; i++) dst[i] = x[i];
    }
}

__device__ float block_reduce(float v, bool take_max, float *shared) {
    for (uint32_t offset = 16; offset > 0; offset /= 2) {
        const float other = __shfl_xor_sync(0xFFFFFFFFu, v, offset);
        v = take_max ? fmaxf(v, other) : v + other;
    }
    const uint32_t warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();  // shared may still be read from the previous reduction
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = shared[0];
    for (uint32_t w = 1; w < kThreads / 32; w++) v = take_max ? fmaxf(v, shared[w]) : v + shared[w];
    return v;
}

__global__ void attention_kernel(tfc_kv_layer layer, tfc_pass_view pass, tfc_attn_args a,
                                 const float *q, float *out) {
    __shared__ float query[TFC_ATTN_MAX_HEAD_DIM];
    __shared__ float weights[kThreads];
    __shared__ float reduce[kThreads / 32];
    const uint32_t t = blockIdx.x, head = blockIdx.y;  // tokens in x: up to 2^31 − 1 of them
    const uint32_t kv_head = head / (a.n_head / a.n_head_kv);
    const tfc_span span = pass.spans[t];
    const uint32_t *table = pass.tables + (size_t)pass.token_seq[t] * pass.blocks_per_seq;
    const float *q_head = q + ((size_t)t * a.n_head + head) * a.head_dim;
    for (uint32_t e = threadIdx.x; e < a.head_dim; e += kThreads) query[e] = q_head[e];
    __syncthreads();
    const size_t k_at = elem_bytes(layer.dtype, kv_head * a.head_dim);
    const size_t v_at = elem_bytes(layer.dtype, kv_head * a.head_dim_v);
    float acc[kMaxDimsPerThread] = {};
    float running_max = -INFINITY, running_sum = 0.0f;
    for (uint32_t p0 = span.pos_first; p0 <= span.pos_last; p0 += kThreads) {
        const uint32_t p = p0 + threadIdx.x;
        float score = -INFINITY;
        if (p <= span.pos_last) {
            const uint8_t *k = kv_row(layer.k, layer.k_row_bytes, table, p) + k_at;
            float dot = 0.0f;
            for (uint32_t e = 0; e < a.head_dim; e++) dot += query[e] * tfc_decode(layer.dtype, k, e);
            score = dot * a.scale;
        }
        const float new_max = fmaxf(running_max, block_reduce(score, true, reduce));
        const float w = p <= span.pos_last ? expf(score - new_max) : 0.0f;
        const float rescale = expf(running_max - new_max);  // 0 while running_max is -inf
        running_sum = running_sum * rescale + block_reduce(w, false, reduce);
        running_max = new_max;
        weights[threadIdx.x] = w;
        __syncthreads();
        const uint32_t n = span.pos_last - p0 + 1 < kThreads ? span.pos_last - p0 + 1 : kThreads;
        for (uint32_t i = 0; i < kMaxDimsPerThread; i++) {
            const uint32_t d = threadIdx.x + i * kThreads;
            if (d >= a.head_dim_v) break;
            float sum = acc[i] * rescale;
            for (uint32_t j = 0; j < n; j++) {
                const uint8_t *v = kv_row(layer.v, layer.v_row_bytes, table, p0 + j) + v_at;
                sum += weights[j] * tfc_decode(layer.dtype, v, d);
            }
            acc[i] = sum;
        }
        __syncthreads();  // weights are rewritten by the next tile
    }
    float *o = out + ((size_t)t * a.n_head + head) * a.head_dim_v;
    for (uint32_t i = 0; i < kMaxDimsPerThread; i++) {
        const uint32_t d = threadIdx.x + i * kThreads;
        if (d < a.head_dim_v) o[d] = acc[i] / running_sum;
    }
}

}  // namespace

extern "C" int tfc_kv_store(const tfc_kv_layer *layer, const tfc_pass_view *pass, const float *k,
                            const float *v, uint32_t k_row_elems, uint32_t v_row_elems,
                            void *stream_arg) {
    if (k_row_elems % 32 || v_row_elems % 32) return TFC_E_SHAPE;
    cudaStream_t stream = static_cast<cudaStream_t>(stream_arg);
    const size_t k_items = (size_t)pass->n_tokens * (k_row_elems / 32);
    const size_t v_items = (size_t)pass->n_tokens * (v_row_elems / 32);
    if (k_items)
        store_kernel<<<(uint32_t)((k_items + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
            *layer, *pass, 0, k, k_row_elems);
    if (v_items)
        store_kernel<<<(uint32_t)((v_items + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
            *layer, *pass, 1, v, v_row_elems);
    return static_cast<int>(cudaGetLastError());
}

extern "C" int tfc_attention(const tfc_kv_layer *layer, const tfc_pass_view *pass,
                             const tfc_attn_args *args, const float *q, float *out,
                             void *stream_arg) {
    if (args->head_dim > TFC_ATTN_MAX_HEAD_DIM || args->head_dim_v > TFC_ATTN_MAX_HEAD_DIM ||
        args->n_head_kv == 0 || args->n_head % args->n_head_kv)
        return TFC_E_SHAPE;
    if (pass->n_tokens == 0) return 0;
    const dim3 grid(pass->n_tokens, args->n_head);
    attention_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream_arg)>>>(
        *layer, *pass, *args, q, out);
    return static_cast<int>(cudaGetLastError());
}
