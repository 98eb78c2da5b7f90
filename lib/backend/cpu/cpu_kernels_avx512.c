/* The AVX-512 build of the CPU kernel table (see cpu_kernels.h): the x86-64-v3 table with the
 * dots of the legacy formats (Q8_0, Q5_0 — the output head and most layer matrices of the default
 * model) replaced by AVX-512 VNNI loops. Their integer block sums come from one VPDPBUSD per pair
 * of blocks (ggml's AVX2 loop needs sign, sign, maddubs and madd per block) and the codes of two
 * Q5_0 blocks are unpacked at once with a mask register; the float part stays exactly ggml's —
 * eight lanes, one fused multiply-add per block in block order, its horizontal-add tree — so this
 * table is bit-identical to the x86-64-v3 one and to llama.cpp (tests/unit/test_cpu_kernels.c,
 * test_forward_golden.c, test_forward_fast.c).
 *
 * For many tokens at once (prompts, decode of several sequences) it also has row-tile products
 * (q5_0_gemm, q8_0_gemm, q4_k_rows4_gemm, q4_k_rows_gemm, q6_k_tiled_gemm, below): sixteen
 * weight rows per register, each (row, token) still computed with exactly ggml's operations.
 *
 * A sixteen-lane float order (one accumulator per pair of blocks) was tried first: it was slower
 * (the per-pair scale spread and the 16-lane reduction cost more than the shorter chain saves)
 * and, through the activations' re-quantization in every layer, moved the default model's logits
 * by up to 3.1 against the exact path (mean NLL +0.07 %). The exact order is kept.
 *
 * Compiled with -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512vnni
 * (lib/CMakeLists.txt, only where the compiler takes them: TINFER_AVX512_KERNELS); only called
 * when the CPU and OS support them (cpu_kernels.c). */
#if TINFER_AVX512_KERNELS
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_qdot.h"
#include "quant/blocks.h"
#include "quant/kquant_scales.h"

#if !(defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
      defined(__AVX512VNNI__))
#error \
    "cpu_kernels_avx512.c needs -mavx512f -mavx512bw -mavx512vl -mavx512vnni (lib/CMakeLists.txt)"
#endif

/* Two 32-byte halves (two blocks' codes) as one register. */
static inline __m512i z_pair(const void *lo, const void *hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)lo)),
                              _mm256_loadu_si256((const __m256i *)hi), 1);
}

/* One 32-byte block in the low half, zeros above. */
static inline __m512i z_one(const void *lo) {
    return _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)lo));
}

/* -bias·Σx over each 4 bytes of x: where VPDPBUSD starts, so that an offset code (w + 128, or the
 * Q5_0 code 0..31 for w + 16) comes out as Σ w·x. All integers, exact. */
static inline __m512i z_offset(__m512i x, int8_t bias) {
    const __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(bias), x);
    return _mm512_sub_epi32(_mm512_setzero_si512(), sum);
}

/* Σ w·x over each 4 bytes, w and x signed: VPDPBUSD takes unsigned times signed, so w + 128 (w
 * with its top bit flipped) times x, started from -128·Σx. */
static inline __m512i z_lanes_q8_0(__m512i w, __m512i x) {
    return _mm512_dpbusd_epi32(z_offset(x, (int8_t)-128),
                               _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80)), x);
}

/* Σ (u - 16)·x over each 4 bytes, u the Q5_0 codes as unsigned 0..31. */
static inline __m512i z_lanes_q5_0(__m512i u, __m512i x) {
    return _mm512_dpbusd_epi32(z_offset(x, 16), u, x);
}

/* The unsigned codes (0..31) of Q5_0 blocks *w0 and *w1 in one register (the low and the high
 * half): per block its 16 low nibbles, then its 16 high nibbles, each plus 16 where qh has bit j
 * set (code j). */
static inline __m512i z_q5_0_codes2(const tf_block_q5_0 *w0, const tf_block_q5_0 *w1) {
    const __m128i a = _mm_loadu_si128((const __m128i *)w0->qs);
    const __m128i b = _mm_loadu_si128((const __m128i *)w1->qs);
    const __m512i packed = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(a, a)),
                                              _mm256_set_m128i(b, b), 1);
    const __m512i shifts = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
    const __m512i nibbles =
        _mm512_and_si512(_mm512_srlv_epi64(packed, shifts), _mm512_set1_epi8(0x0F));
    uint32_t qh0, qh1;
    memcpy(&qh0, w0->qh, sizeof qh0);
    memcpy(&qh1, w1->qh, sizeof qh1);
    const __mmask64 high = (__mmask64)qh0 | (__mmask64)qh1 << 32;
    return _mm512_mask_add_epi8(nibbles, high, nibbles, _mm512_set1_epi8(0x10));
}

/* One block's codes (an odd last block), zeros above. */
static inline __m512i z_q5_0_codes1(const tf_block_q5_0 *w) {
    const __m128i a = _mm_loadu_si128((const __m128i *)w->qs);
    const __m256i nibbles =
        _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(a, 4), a), _mm256_set1_epi8(0x0F));
    uint32_t qh;
    memcpy(&qh, w->qh, sizeof qh);
    return _mm512_zextsi256_si512(
        _mm256_mask_add_epi8(nibbles, (__mmask32)qh, nibbles, _mm256_set1_epi8(0x10)));
}

/* d_w·d_x of two blocks (lanes 0, 1) as ggml forms it: the weight's f16 widened (F16C, exact),
 * times the activation's scale, one rounding. */
static inline __m128 z_scales2(uint16_t dw0, uint16_t dw1, const tf_q8_0_act *x, int n_blocks) {
    const __m128 dw = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)dw0 | (uint32_t)dw1 << 16)));
    const __m128 dx = _mm_set_ps(0, 0, n_blocks > 1 ? x[1].d : 0.0f, x[0].d);
    return _mm_mul_ps(dw, dx);
}

/* ggml's per-block step, acc = fma(d, lanes, acc) in eight lanes, for the blocks in the low and
 * (n_blocks 2) high halves of lanes, in block order. */
static inline __m256 z_accumulate(__m512i lanes_i, __m128 d, int n_blocks, __m256 acc) {
    const __m512 lanes = _mm512_cvtepi32_ps(lanes_i);
    acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(d), _mm512_castps512_ps256(lanes), acc);
    if (n_blocks > 1)
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(d)),
                              _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(lanes), 1)),
                              acc);
    return acc;
}

/* ggml's hsum_float_8, as the x86-64-v3 table's. */
static inline float z_hsum8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* Σ over n_x activation rows at once (1 or 4: each weight pair unpacked once), each row's
 * arithmetic the same whatever n_x. */
static inline void z_dot_q8_0_n(const uint8_t *w_row, const void *const *xq, int n_x, uint32_t n,
                                float *out) {
    const tf_block_q8_0 *w = (const void *)w_row;
    const uint32_t n_blocks = n / TF_QK8_0;
    __m256 acc[4];
    for (int t = 0; t < n_x; t++) acc[t] = _mm256_setzero_ps();
    for (uint32_t b = 0; b < n_blocks; b += 2) {
        const int pair = b + 1 < n_blocks ? 2 : 1;
        const __m512i qw = pair == 2 ? z_pair(w[b].qs, w[b + 1].qs) : z_one(w[b].qs);
        const uint16_t dw1 = pair == 2 ? w[b + 1].d : 0;
        for (int t = 0; t < n_x; t++) {
            const tf_q8_0_act *x = (const tf_q8_0_act *)xq[t] + b;
            const __m512i qx = pair == 2 ? z_pair(x[0].qs, x[1].qs) : z_one(x[0].qs);
            acc[t] =
                z_accumulate(z_lanes_q8_0(qw, qx), z_scales2(w[b].d, dw1, x, pair), pair, acc[t]);
        }
    }
    for (int t = 0; t < n_x; t++) out[t] = z_hsum8(acc[t]);
}

static inline void z_dot_q5_0_n(const uint8_t *w_row, const void *const *xq, int n_x, uint32_t n,
                                float *out) {
    const tf_block_q5_0 *w = (const void *)w_row;
    const uint32_t n_blocks = n / TF_QK5_0;
    __m256 acc[4];
    for (int t = 0; t < n_x; t++) acc[t] = _mm256_setzero_ps();
    for (uint32_t b = 0; b < n_blocks; b += 2) {
        const int pair = b + 1 < n_blocks ? 2 : 1;
        const __m512i qw = pair == 2 ? z_q5_0_codes2(&w[b], &w[b + 1]) : z_q5_0_codes1(&w[b]);
        const uint16_t dw1 = pair == 2 ? w[b + 1].d : 0;
        for (int t = 0; t < n_x; t++) {
            const tf_q8_0_act *x = (const tf_q8_0_act *)xq[t] + b;
            const __m512i qx = pair == 2 ? z_pair(x[0].qs, x[1].qs) : z_one(x[0].qs);
            acc[t] =
                z_accumulate(z_lanes_q5_0(qw, qx), z_scales2(w[b].d, dw1, x, pair), pair, acc[t]);
        }
    }
    for (int t = 0; t < n_x; t++) out[t] = z_hsum8(acc[t]);
}

static float z_dot_q8_0(const uint8_t *w_row, const void *xq, uint32_t n) {
    float out;
    z_dot_q8_0_n(w_row, &xq, 1, n, &out);
    return out;
}

static void z_dot4_q8_0(const uint8_t *w_row, const void *const xq[4], uint32_t n, float out[4]) {
    z_dot_q8_0_n(w_row, xq, 4, n, out);
}

static float z_dot_q5_0(const uint8_t *w_row, const void *xq, uint32_t n) {
    float out;
    z_dot_q5_0_n(w_row, &xq, 1, n, &out);
    return out;
}

static void z_dot4_q5_0(const uint8_t *w_row, const void *const xq[4], uint32_t n, float out[4]) {
    z_dot_q5_0_n(w_row, xq, 4, n, out);
}

/* ---- Row tiles: sixteen weight rows at once, one row per lane ----
 *
 * The four-row dots above unpack each weight block for four tokens; a prompt has 32 per chunk.
 * Here a tile of TF_QGEMM_ROWS rows is unpacked once per call and transposed so that register j
 * of a block holds, in lane r, row r's codes 4j..4j+3 as unsigned bytes (the code plus a bias:
 * 16 for Q5_0, whose codes are stored that way, 128 for Q8_0). One VPDPBUSD with a token's four
 * activation bytes broadcast then yields ggml's integer lane j of that block for sixteen rows;
 * started from −bias·Σ4x (per token, block and j, computed once per call), it is Σ w·x exactly.
 * The float part is each row's own: acc_j = fma(lane_j, d_w·d_x, acc_j) block by block, then
 * hsum_float_8 across the eight accumulators lane by lane — ggml's operations, so the bits of
 * the single-row kernels (tests/unit/test_cpu_kernels.c compares them with memcmp). */

/* One block of a tile: 576 bytes, followed in the scratch by the tokens' sums of that block. */
typedef struct z_tile_block {
    __m512i codes[8]; /* codes[j] lane r: row r's elements 4j..4j+3, each plus the bias */
    __m512 d_w;       /* lane r: row r's block scale, widened */
} z_tile_block;
_Static_assert(sizeof(z_tile_block) == TF_QGEMM_ROWS * (32 + sizeof(float)) &&
                   sizeof(z_tile_block) + TF_QGEMM_TOKENS * 8 * 4 <= TF_QGEMM_BLOCK_SCRATCH,
               "a tile block and the tokens' sums fit the per-block share of the scratch");
_Static_assert(TF_QGEMM_ROWS == 16, "a tile row per 32-bit lane of a zmm");

/* Lane l of the vpermt2d index that swaps bit k of the register number with bit k of the lane
 * number between registers a (bit k clear) and b (set): output h (0 → a's slot, 1 → b's) takes
 * lane l from a or b as l's bit k says (16..31 are b), at l with bit k replaced by h. */
#define Z_SWAP(l, k, h) ((((l) & ~(1 << (k))) | ((h) << (k))) + (((l) >> (k)&1) << 4))
#define Z_SWAP4(l, k, h) \
    Z_SWAP(l, k, h), Z_SWAP(l + 1, k, h), Z_SWAP(l + 2, k, h), Z_SWAP(l + 3, k, h)
#define Z_SWAP16(k, h) Z_SWAP4(0, k, h), Z_SWAP4(4, k, h), Z_SWAP4(8, k, h), Z_SWAP4(12, k, h)
static _Alignas(64) const int32_t Z_SWAP_INDEX[3][2][16] = {
    {{Z_SWAP16(0, 0)}, {Z_SWAP16(0, 1)}},
    {{Z_SWAP16(1, 0)}, {Z_SWAP16(1, 1)}},
    {{Z_SWAP16(2, 0)}, {Z_SWAP16(2, 1)}},
};

/* v[k] lane 8h + j → v[j] lane 8h + k for k, j < 8, each half (h) an 8 × 8 transpose of 32-bit
 * lanes: after three bit swaps the register number and the low lane bits have traded places.
 * 24 vpermt2d, no gather. */
static inline void z_transpose8x2(__m512i v[8]) {
#pragma GCC unroll 3
    for (int k = 0; k < 3; k++) {
        const __m512i lo = _mm512_load_si512(Z_SWAP_INDEX[k][0]);
        const __m512i hi = _mm512_load_si512(Z_SWAP_INDEX[k][1]);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            if (r >> k & 1) continue;
            const __m512i a = v[r], b = v[r | 1 << k];
            v[r] = _mm512_permutex2var_epi32(a, lo, b);
            v[r | 1 << k] = _mm512_permutex2var_epi32(a, hi, b);
        }
    }
}

/* Block b of the tile's sixteen rows into tile[b]: rows k and k + 8 share register k (their
 * biased unsigned codes, one per half), so the transpose puts row 8h + k in lane 8h + k. */
static inline void z_tile_block_unpack(const uint8_t *w, size_t row_bytes, uint32_t b, bool q8,
                                       z_tile_block *tile) {
    __m512i v[8];
    _Alignas(32) uint16_t d[16];
    for (int k = 0; k < 8; k++) {
        const uint8_t *lo = w + (size_t)k * row_bytes, *hi = w + (size_t)(k + 8) * row_bytes;
        if (q8) {
            const tf_block_q8_0 *l = (const tf_block_q8_0 *)lo + b,
                                *h = (const tf_block_q8_0 *)hi + b;
            v[k] =
                _mm512_xor_si512(z_pair(l->qs, h->qs), _mm512_set1_epi8((char)0x80)); /* w + 128 */
            d[k] = l->d;
            d[k + 8] = h->d;
        } else {
            const tf_block_q5_0 *l = (const tf_block_q5_0 *)lo + b,
                                *h = (const tf_block_q5_0 *)hi + b;
            v[k] = z_q5_0_codes2(l, h); /* w + 16 */
            d[k] = l->d;
            d[k + 8] = h->d;
        }
    }
    z_transpose8x2(v);
    for (int j = 0; j < 8; j++) _mm512_store_si512(&tile[b].codes[j], v[j]);
    tile[b].d_w = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)d));
}

/* A tile's codes into tile[0 .. n_blocks). Meanwhile a later tile's bytes (ahead, NULL for none;
 * the rows are contiguous, so one span) are prefetched, a share per block: the unpacking reads
 * sixteen rows in step, sixteen strided streams that the hardware prefetcher alone leaves
 * waiting on memory. Measured on the 178 MB output head (one thread): without it slower than the
 * four-row dots (which read one row at a time) with 4 tokens and 8; with it, two tiles ahead into
 * L2, as fast with 4 and 30 % faster with 8. */
enum { Z_PREFETCH_TILES = 2 };

/* A later packed tile's bytes to ask for into L2 while this one is worked on. A packed tile is
 * one contiguous stream, but when several passes over it (pairs or fours of tokens) share it,
 * only the first reads memory, and the hardware prefetcher, a few lines ahead of demand, idles
 * through the rest: the next tile's first pass then waits on memory. Spread over every block of
 * every pass, the requests keep memory busy all along. Measured on the 178 MB output head, one
 * thread, 8 tokens: exact order 22.2 -> 13.3 ms, the fast one 15.6 -> 8.0; a decode step of 8
 * sequences, two threads, 24.2 -> 17.0 ms. One pass gets none: the hardware prefetcher alone
 * keeps a single token near the bandwidth, and all of a tile's requests at once halved it. */
typedef struct z_ahead {
    const char *at; /* NULL: nothing */
    size_t bytes;
} z_ahead;

/* Tile i + Z_PREFETCH_TILES of tiles (tile_bytes apart), or NULL past the last of n_tiles. */
static inline const uint8_t *z_tile_ahead(const uint8_t *tiles, uint32_t i, uint32_t n_tiles,
                                          size_t tile_bytes) {
    return i + Z_PREFETCH_TILES < n_tiles ? tiles + (i + Z_PREFETCH_TILES) * tile_bytes : NULL;
}

/* Block b of n_blocks' share of ahead (the unpacking loops' and the packed passes' alike). */
static inline void z_prefetch_share(z_ahead ahead, uint32_t b, uint32_t n_blocks) {
    if (!ahead.at) return;
    const size_t from = ahead.bytes * b / n_blocks, to = ahead.bytes * (b + 1) / n_blocks;
    /* asm: with _mm_prefetch here GCC 12 (-O1 and up) emitted no prefetch at all */
    for (size_t at = from & ~(size_t)63; at < to; at += 64)
        __asm__ volatile("prefetcht1 %0" : : "m"(*(ahead.at + at)));
}

/* Pass p of n_passes' part of the tile at next (NULL: none) of tile_bytes; none for one pass. */
static inline z_ahead z_ahead_part(const uint8_t *next, size_t tile_bytes, uint32_t p,
                                   uint32_t n_passes) {
    if (!next || n_passes < 2) return (z_ahead){0};
    const size_t from = tile_bytes * p / n_passes, to = tile_bytes * (p + 1) / n_passes;
    return (z_ahead){(const char *)next + from, to - from};
}

static inline void z_tile_unpack(const uint8_t *w, size_t row_bytes, uint32_t n_blocks, bool q8,
                                 const uint8_t *ahead, z_tile_block *tile) {
    const z_ahead next = {(const char *)ahead, TF_QGEMM_ROWS * row_bytes};
    for (uint32_t b = 0; b < n_blocks; b++) {
        z_prefetch_share(next, b, n_blocks);
        z_tile_block_unpack(w, row_bytes, b, q8, tile);
    }
}

/* off[(t·n_blocks + b)·8 + j] = −bias·Σ x over elements 4j..4j+3 of block b of token t: where
 * each VPDPBUSD starts, so that the biased codes come out as Σ w·x. */
static void z_token_offsets(const uint8_t *x_quant, size_t x_stride, uint32_t n_tokens,
                            uint32_t n_blocks, uint8_t bias, int32_t *off) {
    const __m256i biases = _mm256_set1_epi8((char)bias);
    for (uint32_t t = 0; t < n_tokens; t++) {
        const tf_q8_0_act *x = (const void *)(x_quant + t * x_stride);
        for (uint32_t b = 0; b < n_blocks; b++) {
            const __m256i qx = _mm256_loadu_si256((const __m256i *)x[b].qs);
            const __m256i sum = _mm256_dpbusd_epi32(_mm256_setzero_si256(), biases, qx);
            _mm256_storeu_si256((__m256i *)(off + ((size_t)t * n_blocks + b) * 8),
                                _mm256_sub_epi32(_mm256_setzero_si256(), sum));
        }
    }
}

static inline int32_t z_load4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* ggml's hsum_float_8 of each lane's eight accumulators: (a0+a4 + a2+a6) + (a1+a5 + a3+a7). */
static inline __m512 z_hsum8_lanes(const __m512 a[8]) {
    const __m512 r0 = _mm512_add_ps(a[4], a[0]), r1 = _mm512_add_ps(a[5], a[1]);
    const __m512 r2 = _mm512_add_ps(a[6], a[2]), r3 = _mm512_add_ps(a[7], a[3]);
    return _mm512_add_ps(_mm512_add_ps(r0, r2), _mm512_add_ps(r1, r3));
}

/* Block b of packed rows (tf_packed_q8_0 / tf_packed_q5_0) as an unpacked tile's registers: the
 * Q8_0 codes are stored biased already; the Q5_0 ones are the nibbles of each 4-byte lane, plus 16
 * where the block's bit mask for that register says so. Nothing moves between lanes. */
static inline __attribute__((always_inline)) void
z_packed_block(const uint8_t *packed, bool q8, uint32_t b, __m512i codes[8], __m512 *d_w) {
    if (q8) {
        const tf_packed_q8_0 *p = (const tf_packed_q8_0 *)packed + b;
        for (int j = 0; j < 8; j++) codes[j] = _mm512_loadu_si512(p->codes[j]);
        *d_w = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p->d));
        return;
    }
    const tf_packed_q5_0 *p = (const tf_packed_q5_0 *)packed + b;
    const __m512i low4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
    for (int k = 0; k < 4; k++) {
        const __m512i v = _mm512_loadu_si512(p->qs[k]);
        const __m512i lo = _mm512_and_si512(v, low4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        codes[k] = _mm512_mask_add_epi8(lo, (__mmask64)p->qh[k], lo, bit4);
        codes[k + 4] = _mm512_mask_add_epi8(hi, (__mmask64)p->qh[k + 4], hi, bit4);
    }
    *d_w = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p->d));
}

/* n_x (1 or 2: each tile register loaded once for both) tokens against a tile — unpacked (tile)
 * or packed (packed non-NULL: its blocks, q8 saying which format) — the sixteen rows' dots of
 * token t into y[t][0..15]. */
static inline __attribute__((always_inline)) void
z_tile_tokens(const z_tile_block *tile, const uint8_t *packed, bool q8, uint32_t n_blocks,
              const tf_q8_0_act *const x[2], const int32_t *const off[2], int n_x,
              float *const y[2], z_ahead ahead) {
    __m512 acc[2][8];
    for (int t = 0; t < n_x; t++)
        for (int j = 0; j < 8; j++) acc[t][j] = _mm512_setzero_ps();
    for (uint32_t b = 0; b < n_blocks; b++) {
        __m512i codes[8];
        __m512 d_w;
        z_prefetch_share(ahead, b, n_blocks);
        if (packed) z_packed_block(packed, q8, b, codes, &d_w);
        else {
            for (int j = 0; j < 8; j++) codes[j] = _mm512_load_si512(&tile[b].codes[j]);
            d_w = tile[b].d_w;
        }
        __m512 d[2];
        for (int t = 0; t < n_x; t++) d[t] = _mm512_mul_ps(d_w, _mm512_set1_ps(x[t][b].d));
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            for (int t = 0; t < n_x; t++) {
                const __m512i lane =
                    _mm512_dpbusd_epi32(_mm512_set1_epi32(off[t][b * 8 + j]), codes[j],
                                        _mm512_set1_epi32(z_load4(x[t][b].qs + 4 * j)));
                acc[t][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lane), d[t], acc[t][j]);
            }
    }
    for (int t = 0; t < n_x; t++) _mm512_storeu_ps(y[t], z_hsum8_lanes(acc[t]));
}

/* Every token of the group against one tile (as z_tile_tokens takes it), two at a time. */
static inline __attribute__((always_inline)) void
z_tile_all_tokens(const z_tile_block *tile, const uint8_t *packed, bool q8, uint32_t n_blocks,
                  const tf_qgemm_args *a, uint32_t t0, uint32_t n_tokens, const int32_t *off,
                  float *y, const uint8_t *next, size_t tile_bytes) {
    const uint32_t n_passes = (n_tokens + 1) / 2;
    uint32_t t = 0;
    for (; t + 2 <= n_tokens; t += 2) {
        const tf_q8_0_act *x[2] = {(const void *)(a->x_quant + (t0 + t) * a->x_stride),
                                   (const void *)(a->x_quant + (t0 + t + 1) * a->x_stride)};
        const int32_t *o[2] = {off + (size_t)t * n_blocks * 8,
                               off + (size_t)(t + 1) * n_blocks * 8};
        float *out[2] = {y + (t0 + t) * a->y_stride, y + (t0 + t + 1) * a->y_stride};
        z_tile_tokens(tile, packed, q8, n_blocks, x, o, 2, out,
                      z_ahead_part(next, tile_bytes, t / 2, n_passes));
    }
    if (t < n_tokens) {
        const tf_q8_0_act *x[2] = {(const void *)(a->x_quant + (t0 + t) * a->x_stride), NULL};
        const int32_t *o[2] = {off + (size_t)t * n_blocks * 8, NULL};
        float *out[2] = {y + (t0 + t) * a->y_stride, NULL};
        z_tile_tokens(tile, packed, q8, n_blocks, x, o, 1, out,
                      z_ahead_part(next, tile_bytes, t / 2, n_passes));
    }
}

/* A packed tile's blocks into tile[0 .. n_blocks) (for many tokens: unpacked once, not per pair
 * of tokens). */
static inline void z_packed_unpack(const uint8_t *packed, bool q8, uint32_t n_blocks,
                                   z_tile_block *tile) {
    for (uint32_t b = 0; b < n_blocks; b++) {
        __m512i codes[8];
        z_packed_block(packed, q8, b, codes, &tile[b].d_w);
        for (int j = 0; j < 8; j++) _mm512_store_si512(&tile[b].codes[j], codes[j]);
    }
}

/* Tokens from which packed Q5_0 tiles are unpacked into the scratch first: below, unpacking in
 * registers for each pair of tokens costs less than the stores and loads. (Q8_0's packed codes
 * need no unpacking.) */
enum { Z_PACKED_UNPACK_TOKENS = 5 };

/* One packed tile (packed: its first block) with the tokens [t0, t0 + n_t); next: a later tile
 * of tile_bytes to prefetch meanwhile, or NULL. */
static void z_packed_tile(const uint8_t *packed, bool q8, uint32_t n_blocks, const tf_qgemm_args *a,
                          uint32_t t0, uint32_t n_t, const int32_t *off, float *y,
                          const uint8_t *next, size_t tile_bytes) {
    if (q8) z_tile_all_tokens(NULL, packed, true, n_blocks, a, t0, n_t, off, y, next, tile_bytes);
    else if (n_t < Z_PACKED_UNPACK_TOKENS)
        z_tile_all_tokens(NULL, packed, false, n_blocks, a, t0, n_t, off, y, next, tile_bytes);
    else {
        z_tile_block *tile = a->scratch;
        z_packed_unpack(packed, false, n_blocks, tile);
        z_tile_all_tokens(tile, NULL, false, n_blocks, a, t0, n_t, off, y, next, tile_bytes);
    }
}

/* Row r with tokens [t, t + n_x) (n_x 1 or 4) through the row kernels. */
static void z_row_tokens(const tf_qgemm_args *a, uint32_t r, uint32_t t, int n_x, bool q8) {
    const uint8_t *row = a->w + (size_t)r * a->row_bytes;
    const void *xs[4];
    float out[4];
    for (int i = 0; i < n_x; i++) xs[i] = a->x_quant + (t + i) * a->x_stride;
    if (q8) z_dot_q8_0_n(row, xs, n_x, a->n_elems, out);
    else z_dot_q5_0_n(row, xs, n_x, a->n_elems, out);
    for (int i = 0; i < n_x; i++) a->y[(t + i) * a->y_stride + r] = out[i];
}

/* Rows past the last whole tile: the row kernels, four tokens at a time, then one. */
static void z_rest_rows(const tf_qgemm_args *a, uint32_t r0, bool q8) {
    for (uint32_t r = r0; r < a->n_rows; r++) {
        uint32_t t = 0;
        for (; t + 4 <= a->n_tokens; t += 4) z_row_tokens(a, r, t, 4, q8);
        for (; t < a->n_tokens; t++) z_row_tokens(a, r, t, 1, q8);
    }
}

/* Every tile with every token, TF_QGEMM_TOKENS at a time: from packed rows where the caller has
 * them (a packed tile holds a tile's file bytes, so both step by tile_bytes; every row is then in
 * a whole tile), else unpacked from the file's rows per call. */
static inline void z_gemm(const tf_qgemm_args *a, bool q8) {
    const uint32_t n_blocks = a->n_elems / 32;
    z_tile_block *tile = a->scratch;
    int32_t *off = (int32_t *)(tile + n_blocks);
    const uint32_t n_tiles = a->n_rows / TF_QGEMM_ROWS;
    const size_t tile_bytes = TF_QGEMM_ROWS * a->row_bytes;
    for (uint32_t t0 = 0; t0 < a->n_tokens && n_tiles > 0; t0 += TF_QGEMM_TOKENS) {
        const uint32_t n_t =
            a->n_tokens - t0 < TF_QGEMM_TOKENS ? a->n_tokens - t0 : TF_QGEMM_TOKENS;
        z_token_offsets(a->x_quant + t0 * a->x_stride, a->x_stride, n_t, n_blocks, q8 ? 128 : 16,
                        off);
        for (uint32_t i = 0; i < n_tiles; i++) {
            const size_t r = (size_t)i * TF_QGEMM_ROWS;
            if (a->packed) {
                const uint8_t *next = z_tile_ahead(a->packed, i, n_tiles, tile_bytes);
                z_packed_tile(a->packed + i * tile_bytes, q8, n_blocks, a, t0, n_t, off, a->y + r,
                              next, tile_bytes);
                continue;
            }
            const uint8_t *rows = a->w + r * a->row_bytes;
            z_tile_unpack(rows, a->row_bytes, n_blocks, q8,
                          z_tile_ahead(a->w, i, n_tiles, tile_bytes), tile);
            z_tile_all_tokens(tile, NULL, q8, n_blocks, a, t0, n_t, off, a->y + r, NULL, 0);
        }
    }
    z_rest_rows(a, n_tiles * TF_QGEMM_ROWS, q8);
}

static void z_gemm_q8_0(const tf_qgemm_args *a) { z_gemm(a, true); }

static void z_gemm_q5_0(const tf_qgemm_args *a) { z_gemm(a, false); }

/* ---- The output head in TINFER_HEAD_SUM_FAST's order (packed Q8_0 tiles) ----
 *
 * ggml's order costs, per row, token and block, eight conversions and eight fused multiply-adds
 * (one per integer lane); with several sequences per step that float work, not the head's bytes,
 * bounds the step. Here the eight lanes' VPDPBUSD chains add up in integers (exact) and each block
 * takes one conversion and one multiply-add: acc = fma((float)isum_b, d_w·d_x, acc), blocks in
 * order. Each (row, token) is computed alone, so the logits are the same for any batch. */

/* −128·Σx over each block of token x: where the block's VPDPBUSD chain starts. */
static void z_block_offsets(const tf_q8_0_act *x, uint32_t n_blocks, int32_t *off) {
    for (uint32_t b = 0; b < n_blocks; b++) {
        int32_t sum = 0;
        for (int i = 0; i < TF_QK8_0; i++) sum += x[b].qs[i];
        off[b] = -128 * sum;
    }
}

/* n_x tokens (1 to 4) against one packed tile: y[t][0..15]. */
static inline __attribute__((always_inline)) void
z_fast_tokens(const tf_packed_q8_0 *tile, uint32_t n_blocks, const tf_q8_0_act *const x[4],
              const int32_t *const off[4], int n_x, float *const y[4], z_ahead ahead) {
    __m512 acc[4];
    for (int t = 0; t < n_x; t++) acc[t] = _mm512_setzero_ps();
    for (uint32_t b = 0; b < n_blocks; b++) {
        z_prefetch_share(ahead, b, n_blocks);
        const __m512 d_w = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)tile[b].d));
        __m512i isum[4][2]; /* two chains per token: half the dependent VPDPBUSDs */
        for (int t = 0; t < n_x; t++) {
            isum[t][0] = _mm512_set1_epi32(off[t][b]);
            isum[t][1] = _mm512_setzero_si512();
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            const __m512i codes = _mm512_loadu_si512(tile[b].codes[j]);
            for (int t = 0; t < n_x; t++)
                isum[t][j & 1] = _mm512_dpbusd_epi32(
                    isum[t][j & 1], codes, _mm512_set1_epi32(z_load4(x[t][b].qs + 4 * j)));
        }
        for (int t = 0; t < n_x; t++) {
            const __m512 lane = _mm512_cvtepi32_ps(_mm512_add_epi32(isum[t][0], isum[t][1]));
            acc[t] = _mm512_fmadd_ps(lane, _mm512_mul_ps(d_w, _mm512_set1_ps(x[t][b].d)), acc[t]);
        }
    }
    for (int t = 0; t < n_x; t++) _mm512_storeu_ps(y[t], acc[t]);
}

static void z_gemm_q8_0_fast(const tf_qgemm_args *a);

/* ---- Row tiles of Q4_K: the repacked orders (q4_k_rows4 for prompts, q4_k_rows for decode) ----
 *
 * Per super-block the tile holds, for sixteen rows in the sixteen lanes, the 256 codes (0..15,
 * VPDPBUSD's unsigned operand as they are: no bias), the eight sub-block scales as int32 and the
 * mins as int16 pairs. One token and sub-block s: eight VPDPBUSD give each row's 32-code dot,
 * times its scale (VPMULLD), summed over the span; the mins' sum of the span is VPDPWSSD of the
 * min pairs with the token's bsum pairs (each pair of bsums a sub-block's, within int16). Every
 * integer is exact, and the float steps are the row kernel's: acc = fma(isum, d_w·d_x, acc),
 * acc_min likewise with dmin_w·d_x, acc − acc_min. */

/* One super-block of a tile: 4992 bytes, within the 8 × 2240 that tf_qgemm_scratch_bytes counts
 * for its 256 elements. */
typedef struct z_k4_block {
    __m512i codes[8][8]; /* [s][j] lane r: row r's codes 4j..4j+3 of sub-block s */
    __m512i scale[8];    /* [s] lane r: row r's scale of sub-block s */
    __m512i min2[4];     /* [p] lane r: row r's mins of sub-blocks 2p, 2p + 1 as two int16 */
    __m512 d_w, dmin_w;  /* lane r: row r's d and dmin, widened */
} z_k4_block;
_Static_assert(sizeof(z_k4_block) <= 8 * TF_QGEMM_BLOCK_SCRATCH,
               "a Q4_K tile block fits the scratch of its 256 elements");

/* Codes of group g (64 elements) of a tile's super-block, v[j] lane r holding row r's packed
 * bytes 32g + 4j .. + 3: the low nibbles are sub-block 2g's codes, the high ones 2g + 1's. */
static inline void z_k4_store_codes(const __m512i v[8], int g, z_k4_block *tb) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    for (int j = 0; j < 8; j++) {
        _mm512_store_si512(&tb->codes[2 * g][j], _mm512_and_si512(v[j], low4));
        _mm512_store_si512(&tb->codes[2 * g + 1][j],
                           _mm512_and_si512(_mm512_srli_epi16(v[j], 4), low4));
    }
}

/* The headers of a tile's super-block from h[0] (lane r: row r's d | dmin << 16) and h[1..3] (its
 * scale bytes 0-3, 4-7, 8-11): scales, min pairs and d, dmin widened. */
static inline void z_k4_store_headers(const __m512i h[4], z_k4_block *tb) {
    const __m512i six = _mm512_set1_epi32(63), four = _mm512_set1_epi32(0x0F),
                  top = _mm512_set1_epi32(0x30);
    __m512i min[8];
    for (int s = 0; s < 4; s++) { /* tf_k4_scale_min, lane-wise */
        const int sh = 8 * s;
        _mm512_store_si512(&tb->scale[s], _mm512_and_si512(_mm512_srli_epi32(h[1], sh), six));
        min[s] = _mm512_and_si512(_mm512_srli_epi32(h[2], sh), six);
        _mm512_store_si512(&tb->scale[s + 4],
                           _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(h[3], sh), four),
                                           _mm512_and_si512(_mm512_srli_epi32(h[1], sh + 2), top)));
        min[s + 4] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(h[3], sh + 4), four),
                                     _mm512_and_si512(_mm512_srli_epi32(h[2], sh + 2), top));
    }
    for (int p = 0; p < 4; p++)
        _mm512_store_si512(&tb->min2[p],
                           _mm512_or_si512(min[2 * p], _mm512_slli_epi32(min[2 * p + 1], 16)));
    tb->d_w = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h[0]));
    tb->dmin_w = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(h[0], 16)));
}

/* Super-block b of the tile's sixteen rows: per group g of 64 elements, rows k and k + 8 share
 * register k (their 32 packed bytes), transposed so that lane r holds row r; the headers (d,
 * dmin, the 12 scale bytes: the block's first 16 bytes) the same way. */
static inline void z_k4_block_unpack(const uint8_t *w, size_t row_bytes, uint32_t b,
                                     z_k4_block *tile) {
    for (int g = 0; g < 4; g++) {
        __m512i v[8];
        for (int k = 0; k < 8; k++) {
            const tf_block_q4_k *l = (const tf_block_q4_k *)(w + (size_t)k * row_bytes) + b;
            const tf_block_q4_k *h = (const tf_block_q4_k *)(w + (size_t)(k + 8) * row_bytes) + b;
            v[k] = z_pair(l->qs + 32 * g, h->qs + 32 * g);
        }
        z_transpose8x2(v);
        z_k4_store_codes(v, g, &tile[b]);
    }
    __m512i h[8];
    for (int k = 0; k < 8; k++)
        h[k] = z_pair((const tf_block_q4_k *)(w + (size_t)k * row_bytes) + b,
                      (const tf_block_q4_k *)(w + (size_t)(k + 8) * row_bytes) + b);
    z_transpose8x2(h);
    z_k4_store_headers(h, &tile[b]);
}

/* The same from packed rows (tf_packed_q4_k): already lane per row, nothing to transpose. */
static inline void z_k4_block_from_packed(const uint8_t *packed, uint32_t b, z_k4_block *tile) {
    const tf_packed_q4_k *p = (const tf_packed_q4_k *)packed + b;
    for (int g = 0; g < 4; g++) {
        __m512i v[8];
        for (int j = 0; j < 8; j++) v[j] = _mm512_loadu_si512(p->qs[g][j]);
        z_k4_store_codes(v, g, &tile[b]);
    }
    __m512i h[4];
    for (int i = 0; i < 4; i++) h[i] = _mm512_loadu_si512(p->head[i]);
    z_k4_store_headers(h, &tile[b]);
}

/* n_x (1 to 4: each tile register loaded once for all) tokens against an unpacked Q4_K tile with
 * sub-block groups of `span` (2 or 8): the sixteen rows' dots of token t into y[t][0..15]. */
static inline __attribute__((always_inline)) void z_k4_tokens(const z_k4_block *tile, uint32_t n_sb,
                                                              const tf_q8_k_act *const x[4],
                                                              int n_x, int span, float *const y[4],
                                                              z_ahead ahead) {
    __m512 acc[4], acc_min[4];
    for (int t = 0; t < n_x; t++) acc[t] = acc_min[t] = _mm512_setzero_ps();
    for (uint32_t b = 0; b < n_sb; b++) {
        const z_k4_block *tb = &tile[b];
        z_prefetch_share(ahead, b, n_sb);
        __m512 d[4], dmin[4];
        for (int t = 0; t < n_x; t++) {
            const __m512 dx = _mm512_set1_ps(x[t][b].d);
            d[t] = _mm512_mul_ps(tb->d_w, dx);
            dmin[t] = _mm512_mul_ps(tb->dmin_w, dx);
        }
        for (int s0 = 0; s0 < 8; s0 += span) {
            __m512i isum[4], smin[4];
            for (int t = 0; t < n_x; t++) isum[t] = smin[t] = _mm512_setzero_si512();
            for (int s = s0; s < s0 + span; s++) {
                __m512i dot[4];
                for (int t = 0; t < n_x; t++) dot[t] = _mm512_setzero_si512();
                for (int j = 0; j < 8; j++) {
                    const __m512i codes = _mm512_load_si512(&tb->codes[s][j]);
                    for (int t = 0; t < n_x; t++)
                        dot[t] = _mm512_dpbusd_epi32(
                            dot[t], codes, _mm512_set1_epi32(z_load4(x[t][b].qs + 32 * s + 4 * j)));
                }
                const __m512i scale = _mm512_load_si512(&tb->scale[s]);
                for (int t = 0; t < n_x; t++)
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(dot[t], scale));
            }
            for (int p = s0 / 2; p < (s0 + span) / 2; p++) {
                const __m512i min2 = _mm512_load_si512(&tb->min2[p]);
                for (int t = 0; t < n_x; t++)
                    smin[t] = _mm512_dpwssd_epi32(
                        smin[t], min2, _mm512_set1_epi32(tf_q8_k_bsum_pair(&x[t][b], p)));
            }
            for (int t = 0; t < n_x; t++) {
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), d[t], acc[t]);
                acc_min[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(smin[t]), dmin[t], acc_min[t]);
            }
        }
    }
    for (int t = 0; t < n_x; t++) _mm512_storeu_ps(y[t], _mm512_sub_ps(acc[t], acc_min[t]));
}

/* ---- Row tiles of Q6_K in ggml's tiled order (prompts) ----
 *
 * The tile holds the unsigned 6-bit codes (0..63, VPDPBUSD's unsigned operand as they are), the
 * sixteen group scales as int32 and as int16 pairs. The −32 offset is taken out as ggml does,
 * Σ (u − 32)·x = Σ u·x − 32·bsum: the scales' pairs times the token's bsum pairs (VPDPWSSD),
 * shifted by 5: per super-block s1 = Σ_g scale_g·dot_g − 32·Σ scale·bsum, exact, then
 * acc = fma(d_w·s1, d_x, acc).
 *
 * Decode (ggml's vec_dot order, q6_k) has no row tiles: its eight integer lanes per row each need
 * their own group's scale, 64 multiplies per token and super-block (or, with the codes times
 * their scales as int16, 128 VPDPWSSD); both were tried and measured no faster than the four-row
 * AVX2 dot with 8 tokens (640 × 2048, one thread: 248 and 248 µs against 186-208 µs). */

/* One super-block of a tile: 5696 bytes (of the 8 × 2240 the scratch has for 256 elements). */
typedef struct z_k6_block {
    __m512i codes[8][8]; /* [c][j] lane r: row r's codes 4j..4j+3 of 32-code chunk c */
    __m512i scale[16];   /* [g] lane r: row r's scale of 16-code group g */
    __m512i scale2[8];   /* [p] lane r: row r's scales of groups 2p, 2p + 1 as two int16 */
    __m512 d_w;
} z_k6_block;
_Static_assert(sizeof(z_k6_block) <= 8 * TF_QGEMM_BLOCK_SCRATCH,
               "a Q6_K tile block fits the scratch of its 256 elements");

/* Super-block b of the tile's sixteen rows: per 128-element half, ql's two 32-byte runs and qh
 * transposed (rows k and k + 8 sharing register k, as for Q5_0), then the four chunks' codes
 * formed lane-wise as avx_q6_half forms them. */
static inline void z_k6_block_unpack(const uint8_t *w, size_t row_bytes, uint32_t b,
                                     z_k6_block *tile) {
    const __m512i low4 = _mm512_set1_epi8(0x0F), top2 = _mm512_set1_epi8(0x30);
    for (int half = 0; half < 2; half++) {
        __m512i lo[8], hi[8], qh[8];
        for (int k = 0; k < 8; k++) {
            const tf_block_q6_k *l = (const tf_block_q6_k *)(w + (size_t)k * row_bytes) + b;
            const tf_block_q6_k *h = (const tf_block_q6_k *)(w + (size_t)(k + 8) * row_bytes) + b;
            lo[k] = z_pair(l->ql + 64 * half, h->ql + 64 * half);
            hi[k] = z_pair(l->ql + 64 * half + 32, h->ql + 64 * half + 32);
            qh[k] = z_pair(l->qh + 32 * half, h->qh + 32 * half);
        }
        z_transpose8x2(lo);
        z_transpose8x2(hi);
        z_transpose8x2(qh);
        for (int j = 0; j < 8; j++) {
            const __m512i a = lo[j], c = hi[j], h = qh[j];
            __m512i *out = &tile[b].codes[4 * half][0];
            _mm512_store_si512(
                &out[0 * 8 + j],
                _mm512_or_si512(_mm512_and_si512(a, low4),
                                _mm512_slli_epi16(_mm512_and_si512(h, _mm512_set1_epi8(0x03)), 4)));
            _mm512_store_si512(
                &out[1 * 8 + j],
                _mm512_or_si512(_mm512_and_si512(c, low4),
                                _mm512_slli_epi16(_mm512_and_si512(h, _mm512_set1_epi8(0x0C)), 2)));
            _mm512_store_si512(&out[2 * 8 + j],
                               _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(a, 4), low4),
                                               _mm512_and_si512(h, top2)));
            _mm512_store_si512(&out[3 * 8 + j],
                               _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(c, 4), low4),
                                               _mm512_and_si512(_mm512_srli_epi16(h, 2), top2)));
        }
    }
    /* The scales the same way: the 32 bytes before d (the last 16 of qh, then the 16 scales,
     * all inside the block), transposed, put scale g in byte g % 4 of h[4 + g / 4]. */
    __m512i h[8];
    const size_t scales_end = offsetof(tf_block_q6_k, d) - 32;
    for (int k = 0; k < 8; k++)
        h[k] = z_pair(w + (size_t)k * row_bytes + b * sizeof(tf_block_q6_k) + scales_end,
                      w + (size_t)(k + 8) * row_bytes + b * sizeof(tf_block_q6_k) + scales_end);
    z_transpose8x2(h);
    __m512i scale[16];
    for (int g = 0; g < 16; g++) { /* sign-extended from its byte */
        scale[g] = _mm512_srai_epi32(_mm512_slli_epi32(h[4 + g / 4], 24 - 8 * (g % 4)), 24);
        _mm512_store_si512(&tile[b].scale[g], scale[g]);
    }
    for (int p = 0; p < 8; p++)
        _mm512_store_si512(
            &tile[b].scale2[p],
            _mm512_or_si512(_mm512_and_si512(scale[2 * p], _mm512_set1_epi32(0xFFFF)),
                            _mm512_slli_epi32(scale[2 * p + 1], 16)));
    _Alignas(32) uint16_t d[16];
    for (int r = 0; r < 16; r++)
        memcpy(&d[r],
               w + (size_t)r * row_bytes + b * sizeof(tf_block_q6_k) + offsetof(tf_block_q6_k, d),
               sizeof d[r]);
    tile[b].d_w = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)d));
}

/* A token's bsums of groups 2p, 2p + 1 as two int16, VPDPWSSD's broadcast operand. */
static inline __m512i z_k6_bsum_pair(const tf_q8_k_act *x, int p) {
    int32_t v;
    memcpy(&v, &x->bsums[2 * p], sizeof v);
    return _mm512_set1_epi32(v);
}

/* n_x tokens (1 to 4) in the tiled order: y[t][0..15]. */
static inline __attribute__((always_inline)) void z_k6_tiled_tokens(const z_k6_block *tile,
                                                                    uint32_t n_sb,
                                                                    const tf_q8_k_act *const x[4],
                                                                    int n_x, float *const y[4]) {
    __m512 acc[4];
    for (int t = 0; t < n_x; t++) acc[t] = _mm512_setzero_ps();
    for (uint32_t b = 0; b < n_sb; b++) {
        const z_k6_block *tb = &tile[b];
        __m512i s1[4];
        for (int t = 0; t < n_x; t++) s1[t] = _mm512_setzero_si512();
        for (int g = 0; g < 16; g++) {
            __m512i dot[4];
            for (int t = 0; t < n_x; t++) dot[t] = _mm512_setzero_si512();
            for (int j = 4 * (g & 1); j < 4 * (g & 1) + 4; j++) {
                const __m512i codes = _mm512_load_si512(&tb->codes[g / 2][j]);
                for (int t = 0; t < n_x; t++)
                    dot[t] = _mm512_dpbusd_epi32(
                        dot[t], codes,
                        _mm512_set1_epi32(z_load4(x[t][b].qs + 16 * g + 4 * (j & 3))));
            }
            const __m512i scale = _mm512_load_si512(&tb->scale[g]);
            for (int t = 0; t < n_x; t++)
                s1[t] = _mm512_add_epi32(s1[t], _mm512_mullo_epi32(dot[t], scale));
        }
        for (int t = 0; t < n_x; t++) {
            __m512i off = _mm512_setzero_si512();
            for (int p = 0; p < 8; p++)
                off = _mm512_dpwssd_epi32(off, _mm512_load_si512(&tb->scale2[p]),
                                          z_k6_bsum_pair(&x[t][b], p));
            s1[t] = _mm512_sub_epi32(s1[t], _mm512_slli_epi32(off, 5));
            const __m512 res = _mm512_mul_ps(tb->d_w, _mm512_cvtepi32_ps(s1[t]));
            acc[t] = _mm512_fmadd_ps(res, _mm512_set1_ps(x[t][b].d), acc[t]);
        }
    }
    for (int t = 0; t < n_x; t++) _mm512_storeu_ps(y[t], acc[t]);
}

enum { Z_K4_ROWS4, Z_K4_ROWS, Z_K6_TILED };

/* One group of tokens against an unpacked tile of the given kind, up to four at a time: tile
 * registers loaded once for all of them. */
static inline __attribute__((always_inline)) void z_k_tokens(const void *tile, uint32_t n_sb,
                                                             const tf_q8_k_act *const x[4], int n_x,
                                                             int kind, float *const y[4],
                                                             z_ahead ahead) {
    /* only packed Q4_K tiles prefetch (Q6_K's are unpacked from the file, prefetching there) */
    if (kind == Z_K4_ROWS4) z_k4_tokens(tile, n_sb, x, n_x, 2, y, ahead);
    else if (kind == Z_K4_ROWS) z_k4_tokens(tile, n_sb, x, n_x, 8, y, ahead);
    else z_k6_tiled_tokens(tile, n_sb, x, n_x, y);
}

static inline __attribute__((always_inline)) void
z_k_all_tokens(const void *tile, uint32_t n_sb, const tf_qgemm_args *a, uint32_t t0,
               uint32_t n_tokens, int kind, float *y, const uint8_t *next, size_t tile_bytes) {
    const int step = 4;
    const uint32_t n_passes = n_tokens / step + n_tokens % step;
    uint32_t pass = 0;
    uint32_t t = 0;
    const tf_q8_k_act *x[4];
    float *out[4];
    for (; t + (uint32_t)step <= n_tokens; t += (uint32_t)step) {
        for (int i = 0; i < step; i++) {
            x[i] = (const void *)(a->x_quant + (t0 + t + i) * a->x_stride);
            out[i] = y + (t0 + t + i) * a->y_stride;
        }
        z_k_tokens(tile, n_sb, x, step, kind, out,
                   z_ahead_part(next, tile_bytes, pass++, n_passes));
    }
    for (; t < n_tokens; t++) {
        x[0] = (const void *)(a->x_quant + (t0 + t) * a->x_stride);
        out[0] = y + (t0 + t) * a->y_stride;
        z_k_tokens(tile, n_sb, x, 1, kind, out, z_ahead_part(next, tile_bytes, pass++, n_passes));
    }
}

static inline __attribute__((always_inline)) void z_gemm_k(const tf_qgemm_args *a, int kind) {
    const uint32_t n_sb = a->n_elems / TF_QK_K;
    const uint32_t n_tiles = a->n_rows / TF_QGEMM_ROWS;
    const size_t tile_bytes = TF_QGEMM_ROWS * a->row_bytes;
    for (uint32_t t0 = 0; t0 < a->n_tokens && n_tiles > 0; t0 += TF_QGEMM_TOKENS) {
        const uint32_t n_t =
            a->n_tokens - t0 < TF_QGEMM_TOKENS ? a->n_tokens - t0 : TF_QGEMM_TOKENS;
        for (uint32_t i = 0; i < n_tiles; i++) {
            const size_t r = (size_t)i * TF_QGEMM_ROWS;
            if (a->packed) { /* Q4_K (cpu_packed.c packs no Q6_K): one stream, no transposes */
                for (uint32_t b = 0; b < n_sb; b++)
                    z_k4_block_from_packed(a->packed + i * tile_bytes, b, a->scratch);
                const uint8_t *next = z_tile_ahead(a->packed, i, n_tiles, tile_bytes);
                z_k_all_tokens(a->scratch, n_sb, a, t0, n_t, kind, a->y + r, next, tile_bytes);
                continue;
            }
            const uint8_t *rows = a->w + r * a->row_bytes;
            const z_ahead ahead = {(const char *)z_tile_ahead(a->w, i, n_tiles, tile_bytes),
                                   tile_bytes};
            for (uint32_t b = 0; b < n_sb; b++) {
                z_prefetch_share(ahead, b, n_sb);
                if (kind == Z_K4_ROWS4 || kind == Z_K4_ROWS)
                    z_k4_block_unpack(rows, a->row_bytes, b, a->scratch);
                else z_k6_block_unpack(rows, a->row_bytes, b, a->scratch);
            }
            z_k_all_tokens(a->scratch, n_sb, a, t0, n_t, kind, a->y + r, NULL, 0);
        }
    }
}

static void z_gemm_q6_k_tiled(const tf_qgemm_args *a);
static void z_gemm_q4_k_rows4(const tf_qgemm_args *a);
static void z_gemm_q4_k_rows(const tf_qgemm_args *a);

/* The rest of the table is the x86-64-v3 source, compiled here with these flags. */
#define TF_KERNELS_NAME tf_cpu_kernels_avx512_table
#define TF_KERNELS_LABEL "avx512"
#define TF_KERNELS_AVX2 1
#define TF_KERNEL_Q8_0 z_dot_q8_0
#define TF_KERNEL_Q8_0_X4 z_dot4_q8_0
#define TF_KERNEL_Q5_0 z_dot_q5_0
#define TF_KERNEL_Q5_0_X4 z_dot4_q5_0
#define TF_KERNEL_Q5_0_GEMM z_gemm_q5_0
#define TF_KERNEL_Q8_0_GEMM z_gemm_q8_0
#define TF_KERNEL_Q4_K_ROWS4_GEMM z_gemm_q4_k_rows4
#define TF_KERNEL_Q4_K_ROWS_GEMM z_gemm_q4_k_rows
#define TF_KERNEL_Q6_K_TILED_GEMM z_gemm_q6_k_tiled
#define TF_KERNEL_Q8_0_GEMM_FAST z_gemm_q8_0_fast
#define TF_KERNEL_PACKS (TF_PACKS_Q5_0 | TF_PACKS_Q8_0 | TF_PACKS_Q4_K)
#include "backend/cpu/cpu_kernels_impl.h"

/* Q4_K span 2 (prompts, ggml's gemm) and 8 (single tokens, its gemv), Q6_K tiled (prompts) and
 * vec_dot (single tokens); the rows past the last tile go through this table's row kernels. */
static void z_gemm_q4_k_rows4(const tf_qgemm_args *a) {
    z_gemm_k(a, Z_K4_ROWS4);
    k_gemm_rows_with(a, a->n_rows / TF_QGEMM_ROWS * TF_QGEMM_ROWS, TF_KERNELS_NAME.q4_k_rows4,
                     TF_KERNELS_NAME.q4_k_rows4_x4);
}

static void z_gemm_q4_k_rows(const tf_qgemm_args *a) {
    z_gemm_k(a, Z_K4_ROWS);
    k_gemm_rows_with(a, a->n_rows / TF_QGEMM_ROWS * TF_QGEMM_ROWS, TF_KERNELS_NAME.q4_k_rows,
                     TF_KERNELS_NAME.q4_k_rows_x4);
}

/* Every tile (a->packed; without it, the exact order: see q8_0_gemm_fast) with the tokens four
 * at a time, the rest one by one; each token's block offsets from the scratch's offset area. */
static void z_gemm_q8_0_fast(const tf_qgemm_args *a) {
    if (!a->packed) {
        z_gemm_q8_0(a);
        return;
    }
    const uint32_t n_blocks = a->n_elems / TF_QK8_0;
    int32_t *off = (int32_t *)((z_tile_block *)a->scratch + n_blocks);
    const size_t tile_blocks = n_blocks;
    for (uint32_t t0 = 0; t0 < a->n_tokens; t0 += TF_QGEMM_TOKENS) {
        const uint32_t n_t =
            a->n_tokens - t0 < TF_QGEMM_TOKENS ? a->n_tokens - t0 : TF_QGEMM_TOKENS;
        const tf_q8_0_act *x[TF_QGEMM_TOKENS];
        for (uint32_t t = 0; t < n_t; t++) {
            x[t] = (const void *)(a->x_quant + (t0 + t) * a->x_stride);
            z_block_offsets(x[t], n_blocks, off + (size_t)t * n_blocks);
        }
        const uint32_t n_tiles = a->n_rows / TF_QGEMM_ROWS;
        const size_t tile_bytes = tile_blocks * sizeof(tf_packed_q8_0);
        const uint32_t n_passes = n_t / 4 + n_t % 4;
        for (uint32_t i = 0; i < n_tiles; i++) {
            const tf_packed_q8_0 *tile = (const tf_packed_q8_0 *)a->packed + i * tile_blocks;
            const uint8_t *next = z_tile_ahead(a->packed, i, n_tiles, tile_bytes);
            uint32_t pass = 0;
            float *y = a->y + (size_t)i * TF_QGEMM_ROWS;
            uint32_t t = 0;
            for (; t + 4 <= n_t; t += 4) {
                const int32_t *o[4];
                float *out[4];
                for (int k = 0; k < 4; k++) {
                    o[k] = off + (size_t)(t + k) * n_blocks;
                    out[k] = y + (t0 + t + k) * a->y_stride;
                }
                z_fast_tokens(tile, n_blocks, x + t, o, 4, out,
                              z_ahead_part(next, tile_bytes, pass++, n_passes));
            }
            for (; t < n_t; t++) {
                const int32_t *o[4] = {off + (size_t)t * n_blocks};
                float *out[4] = {y + (t0 + t) * a->y_stride};
                z_fast_tokens(tile, n_blocks, x + t, o, 1, out,
                              z_ahead_part(next, tile_bytes, pass++, n_passes));
            }
        }
    }
}

static void z_gemm_q6_k_tiled(const tf_qgemm_args *a) {
    z_gemm_k(a, Z_K6_TILED);
    k_gemm_rows_with(a, a->n_rows / TF_QGEMM_ROWS * TF_QGEMM_ROWS, TF_KERNELS_NAME.q6_k_tiled,
                     TF_KERNELS_NAME.q6_k_tiled_x4);
}

#else
typedef int tf_cpu_kernels_avx512_unused; /* not built (TINFER_AVX512_KERNELS=0) */
#endif
