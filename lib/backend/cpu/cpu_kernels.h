/* The CPU inner loops that run once per weight byte or per cached key, as one table of function
 * pointers chosen at run time.
 *
 * Three tables, two sources:
 *   - "generic": cpu_kernels_impl.h as portable C (cpu_kernels_generic.c, in every build);
 *   - "x86-64-v3": the same source with its AVX2 loops (cpu_kernels_x86_v3.c, -mavx2 -mfma
 *     -mf16c, where TINFER_X86_KERNELS in lib/CMakeLists.txt builds it). Both follow the lane
 *     structure of llama.cpp's AVX2 kernels — eight float accumulators fed by fused
 *     multiply-adds, then its horizontal-add tree — so both give bit-identical results, equal to
 *     llama.cpp's own (tests/unit/test_forward_golden.c runs both). The generic build calls
 *     fmaf() (exact everywhere, slow where the CPU has no FMA); the x86-64-v3 build inlines it.
 *   - "avx512": the x86-64-v3 table with the Q8_0 and Q5_0 dots replaced by AVX-512 VNNI loops
 *     (cpu_kernels_avx512.c; built where the compiler takes -mavx512f/bw/vl/vnni): one VPDPBUSD
 *     forms the exact integer sums of two blocks, the float part is ggml's eight-lane order
 *     unchanged, so it too is bit-identical (test_cpu_kernels.c per entry, test_forward_fast.c
 *     and the golden tests on the whole model). It alone has the sixteen-row tiles (q5_0_gemm,
 *     q8_0_gemm, q4_k_rows4_gemm, q4_k_rows_gemm, q6_k_tiled_gemm: sixteen rows per register,
 *     packed rows) for prompts and batched decode, the same bits; the x86-64-v3 table has a
 *     q5_0_gemm and q8_0_gemm of its own (cpu_kernels_gemm_avx2.h: two rows × four tokens per
 *     tile; and for Q5_0, rows packed in a layout of its own, TF_PACKS_Q5_0_AVX2, read eight
 *     rows per register for decode) and Q4_K ones on the avx512 packed layout, eight rows per
 *     register (cpu_kernels_k4_avx2.h).
 *
 * Which one a context gets (read when it is created): by default the fastest the CPU supports —
 * avx512 on a CPU (and OS: XCR0 must save the ZMM and mask state) with AVX-512 F, BW, VL and
 * VNNI, else x86-64-v3 with AVX2, FMA and F16C, else generic. All three give the same bits, so
 * the choice changes speed only. TINFER_CPU=generic|avx2|avx512 asks for one (falling back to
 * the best supported one below it; "auto", empty or another value: the default).
 * TINFER_FORCE_GENERIC=1 (kept as an alias) selects generic whatever TINFER_CPU says.
 * tinfer_cpu_kernels() names the table in use. */
#ifndef TINFER_BACKEND_CPU_CPU_KERNELS_H
#define TINFER_BACKEND_CPU_CPU_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "backend/cpu/cpu_qdot.h"

/* Lane counts of the two attention dot-product orders (see tf_cpu_kernels). */
enum { TF_LANES_VECDOT = 32, TF_LANES_TILED = 8 };

/* out[t] = Σ_j w[j]·x_t[j] for four quantized activation rows x_t. */
typedef void (*tf_qdot4_fn)(const uint8_t *w_row, const void *const x_quant[4], uint32_t n_elems,
                            float out[4]);

/* out[r] = Σ_j w_r[j]·x[j] for four weight rows w_r and one quantized activation row: each the
 * bits of one call of the single-row kernel it stands for. */
typedef void (*tf_qdot_rows4_fn)(const uint8_t *const w_rows[4], const void *x_quant,
                                 uint32_t n_elems, float out[4]);

/* A row-tile product: weight rows in tiles of TF_QGEMM_ROWS, each tile's blocks unpacked once for
 * up to TF_QGEMM_TOKENS activation rows (more are taken in groups of that many). */
enum { TF_QGEMM_ROWS = 16, TF_QGEMM_TOKENS = 32 };

/* Q5_0, Q8_0 and Q4_K weight rows laid out ahead of time for the row tiles (cpu_packed.c makes
 * them once per model): a tile's sixteen rows block by block, lane r of every 64-byte group row
 * r's, so that a product reads one stream and moves nothing between rows. A packed block holds
 * the bytes of sixteen file blocks, so reading it costs the same bandwidth. */
typedef struct tf_packed_q8_0 {
    uint8_t codes[8][64]; /* codes[j], lane r: row r's elements 4j..4j+3, each plus 128 */
    uint16_t d[16];       /* lane r: row r's block scale, float16 bits */
} tf_packed_q8_0;

/* Q5_0 in one of two layouts, as the table reads them (tf_cpu_kernels.packs).
 * TF_PACKS_Q5_0 (avx512): the file's nibbles, the fifth bits in 64-bit words, one mask register
 * per group of four elements.
 * TF_PACKS_Q5_0_AVX2 (x86-64-v3): whole codes in bytes, so that an and gives those of elements
 * 4k..4k+3 of eight rows and a shift, two ands and an or those of 16 + 4k..: the fifth bits kept
 * apart had cost three to four more operations per 64 codes (about a sixth of decode's Q5_0
 * chain). A code is the file's unsigned one (nibble | fifth bit << 4, 0..31). */
typedef struct tf_packed_q5_0 {
    union {
        struct {               /* TF_PACKS_Q5_0 */
            uint8_t qs[4][64]; /* qs[k], lane r: row r's qs bytes 4k..4k+3 (low nibbles: elements
                                  4k..4k+3; high nibbles: 16 + 4k..) */
            uint64_t qh[8];    /* qh[j] bit 4r + i: bit 4 of row r's element 4j + i */
        };
        struct {                  /* TF_PACKS_Q5_0_AVX2 */
            uint8_t codes[4][64]; /* codes[k], lane r, byte i: row r's code of element 4k + i
                                     (bits 0-4), bits 0-2 of that of 16 + 4k + i (bits 5-7) */
            uint8_t tops[2][32];  /* tops[h] byte 4(r − 8h) + i, bits 2k..2k + 1: bits 3-4 of
                                     row r's code of element 16 + 4k + i */
        };
    };
    uint16_t d[16]; /* lane r: row r's block scale, float16 bits */
} tf_packed_q5_0;

/* Q4_K (q4_k_rows_gemm, q4_k_rows4_gemm): per super-block, the bytes of sixteen file blocks. */
typedef struct tf_packed_q4_k {
    uint8_t qs[4][8][64]; /* qs[g][j], lane r: row r's qs bytes 32g + 4j .. + 3 (low nibbles:
                             sub-block 2g's codes 4j..4j+3; high nibbles: sub-block 2g + 1's) */
    uint8_t head[4][64];  /* lane r: head[0] row r's d | dmin << 16, head[1..3] its scale bytes
                             0-3, 4-7, 8-11 */
} tf_packed_q4_k;

/* The packed layouts a kernel table's row tiles read (tf_cpu_kernels.packs, a set of these). */
enum {
    TF_PACKS_Q5_0 = 1u << 0,      /* tf_packed_q5_0, qs and qh */
    TF_PACKS_Q8_0 = 1u << 1,      /* tf_packed_q8_0 */
    TF_PACKS_Q4_K = 1u << 2,      /* tf_packed_q4_k */
    TF_PACKS_Q5_0_AVX2 = 1u << 3, /* tf_packed_q5_0, codes and tops */
};

_Static_assert(sizeof(tf_packed_q8_0) == 16 * 34 && sizeof(tf_packed_q5_0) == 16 * 22 &&
                   sizeof(tf_packed_q4_k) == 16 * 144,
               "a packed block holds sixteen file blocks, byte for byte");

/* y[t·y_stride + r] = Σ_j w_r[j]·x_t[j] for weight rows r < n_rows and activation rows
 * t < n_tokens: each (r, t) the bits of one call of the single-row kernel it stands for (any
 * n_rows: the rows past the last whole tile go through that kernel). */
typedef struct tf_qgemm_args {
    const uint8_t *w; /* n_rows weight rows, row_bytes apart */
    size_t row_bytes;
    uint32_t n_rows;
    /* The same rows packed in the table's layout for their dtype (tf_cpu_kernels.packs: one of
     * tf_packed_q5_0 / _q5_0_avx2 / _q8_0 / _q4_k), tile by tile, each tile's blocks in order
     * (n_rows a multiple of TF_QGEMM_ROWS), or NULL. Read instead of w, which lets any n_tokens,
     * one included, go through the tiles. */
    const uint8_t *packed;
    const uint8_t *x_quant; /* n_tokens activation rows (the kernel's format), x_stride apart */
    size_t x_stride;
    uint32_t n_tokens;
    uint32_t n_elems; /* per row, a multiple of the dtype's block (32; 256 for k-quants) */
    float *y;
    size_t y_stride;
    void *scratch; /* tf_qgemm_scratch_bytes(n_elems) bytes, 64-byte aligned, the caller's */
} tf_qgemm_args;
typedef void (*tf_qgemm_fn)(const tf_qgemm_args *args);

/* The scratch of a tf_qgemm_fn for rows of n_elems, per 32-element block: the x86-64-v3 table's
 * sixteen unpacked rows (codes, magnitudes, a float scale) and TF_QGEMM_TOKENS activation rows
 * repacked (codes, a float scale) (cpu_kernels_gemm_avx2.h); the avx512 table's unpacked tile
 * (TF_QGEMM_ROWS × (32 code bytes + a float scale)) and eight int32 sums per activation row take
 * less. The k-quant tiles (codes, scales and mins of 256 elements: at most 5696 of the 8 × 2240
 * bytes counted) fit in it too (cpu_kernels_avx512.c checks). */
enum { TF_QGEMM_BLOCK_SCRATCH = TF_QGEMM_ROWS * (2 * 32 + 4) + TF_QGEMM_TOKENS * (32 + 4) };
static inline size_t tf_qgemm_scratch_bytes(size_t n_elems) {
    const size_t n_blocks = (n_elems + 31) / 32;
    return n_blocks * TF_QGEMM_BLOCK_SCRATCH;
}

/* attn_q8_values: at most this many positions per call (the 32-bit sums stay exact), rows
 * quantized this many at a time. */
enum { TF_ATTN_Q8_MAX_POS = 256, TF_ATTN_Q8_ROWS = 4 };

/* The work area of attn_q8_values for rows of n elements: TF_ATTN_Q8_ROWS rows of 16-bit weights
 * and the blocks' float scales, per block and position, and a float step per row and block; it
 * holds attn_q8_scores' four rows of 16-bit query codes and their steps (288 bytes a block)
 * too. */
static inline size_t tf_attn_q8_work_bytes(size_t n) {
    return n / 32 *
           (TF_ATTN_Q8_MAX_POS * (TF_ATTN_Q8_ROWS * sizeof(int16_t) + sizeof(float)) +
            TF_ATTN_Q8_ROWS * sizeof(float));
}

typedef struct tf_cpu_kernels {
    const char *name; /* "generic", "x86-64-v3" or "avx512" */
    /* The packed rows its row tiles read (TF_PACKS_*; 0: none, the file's rows only): what
     * cpu_packed.c copies a model's matrices into when this is the CPU's best table. */
    unsigned packs;
    /* Weight-row × quantized-activation dots, per weight dtype (cpu_qdot.h), in each order
     * llama.cpp uses (tf_cpu_qdot_of picks): lane-wise vec_dot; for Q4_K matrices it repacks
     * (row count a multiple of 8) per-row sums, per super-block for single tokens (q4_k_rows) and
     * per 64 elements for tokens in groups of four (q4_k_rows4); for other k-quant matrices in
     * batches of 8+ tokens, its tiled kernel (the *_tiled ones). */
    tf_qdot_fn q4_0, q5_0, q8_0, q4_k, q5_k, q6_k;
    tf_qdot_fn q4_0_rows, q4_k_rows, q4_k_rows4, q4_k_tiled, q5_k_tiled, q6_k_tiled;
    /* Four activation rows at once, bit-identical to four single calls of the kernel named
     * (NULL where a build has none): prompts reuse each unpacked weight block, and so do decode
     * passes of four or more sequences (each token rounds as a single one: q4_k_rows_x4, q6_k_x4,
     * q5_0_x4, q8_0_x4). */
    tf_qdot4_fn q5_0_x4, q8_0_x4, q4_k_rows4_x4, q6_k_tiled_x4, q4_k_rows_x4, q6_k_x4;
    /* Four weight rows against one token, bit-identical to four calls of q8_0 (NULL where a
     * build has none): a decode token's unpacked Q8_0 rows (the output head, a Q8_0 model's
     * layers) one from each of the four streams cpu_matmul.c reads them in, four independent
     * float chains instead of one, the activation block loaded once. */
    tf_qdot_rows4_fn q8_0_rows4;
    /* Row tiles of q5_0 and q8_0 against many tokens (NULL where a build has none): prompts, and
     * decode passes of several sequences. */
    tf_qgemm_fn q5_0_gemm, q8_0_gemm;
    /* Row tiles of Q4_K in the repacked orders (q4_k_rows4: prompts; q4_k_rows: decode of
     * several sequences) and of Q6_K's tiled order (prompts), NULL where a build has none. */
    tf_qgemm_fn q4_k_rows4_gemm, q4_k_rows_gemm, q6_k_tiled_gemm;
    /* Q8_0 rows in the fast order (TINFER_HEAD_SUM_FAST's for packed heads,
     * TINFER_PROMPT_SUM_FAST's for prompts; NULL where a build has none): per (row, token) acc =
     * fma((float)isum_b, d_w·d_x, acc) over the blocks b in order from 0, isum_b the block's exact
     * integer dot; y = acc. The avx512 table's reads packed rows (without them, the exact order);
     * the x86-64-v3 one's the file's, any row count. */
    tf_qgemm_fn q8_0_gemm_fast;
    /* Prompts in TINFER_PROMPT_SUM_FAST's order, packed Q5_0 rows only (NULL where a build has
     * none): per (row, token) the same chain as q8_0_gemm_fast's, isum_b = Σ (code − 16)·x. */
    tf_qgemm_fn q5_0_gemm_fast;
    /* Σ a[i]·b[i] in ggml_vec_dot_f16's order: 4 × 8 lanes over 32-element steps, the tail in
     * double. What llama.cpp uses for one query token. */
    float (*dot_vecdot)(const float *a, const float *b, size_t n);
    /* The same in ggml_vec_dot_f32's order (F32 cache): the tail fused into a float sum. */
    float (*dot_vecdot_f32)(const float *a, const float *b, size_t n);
    /* Σ a[i]·b[i] in tinyBLAS's order: 8 lanes (n a multiple of 8). What llama.cpp uses for
     * batches of two or more tokens. */
    float (*dot_tiled)(const float *a, const float *b, size_t n);
    /* acc[i] = fma(v[i], p, acc[i]) for i < n: one lane of the attention-weighted sum of V. */
    void (*axpy)(float *acc, const float *v, float p, size_t n);
    /* y[i] = x[i] widened from float16 (exact). */
    void (*f16_to_f32)(const uint16_t *x, float *y, size_t n);
    /* y[i] = x[i] rounded to float16 as tf_f32_to_f16 rounds it (to nearest, ties to even): the
     * F16 cache's K/V writes. */
    void (*f32_to_f16)(const float *x, uint16_t *y, size_t n);
    /* ggml's vectorised exp (ggml_v_expf) of each of n values. */
    void (*expf_n)(const float *x, float *y, size_t n);
    /* gate[i] = g(gate[i]) · up[i], g ggml's CPU GELU: 0 at or below -10, the input at or above
     * 10, else table[the input rounded to float16] widened. table: 65536 float16 results and 2
     * bytes of padding after them (read as 32-bit words), as cpu_elementwise.c builds it. */
    void (*gelu_table_mul)(const uint16_t *table, float *gate, const float *up, size_t n);
    /* RoPE in the NEOX/HF layout, pairs (x0[i], x1[i]) for i < n: x0[i] = fmaf(x0[i], c[i],
     * -(x1[i]·s[i])), x1[i] = fmaf(x0[i], s[i], x1[i]·c[i]) with the old x0[i], x1[i]: how
     * llama.cpp's compiled rotation rounds (cpu_rope.c). */
    void (*rope_neox)(float *x0, float *x1, size_t n, const float *c, const float *s);
    /* ---- attention over an F16 cache (cpu_kernels_attn_impl.h) ----
     * scores[r·stride + i] = dot(k_rows[i], q + r·n) · scale for query rows r < n_rows and keys
     * i < n_keys, each dot the float16 row widened and summed exactly as dot_tiled (n a multiple
     * of 8) or dot_vecdot would: the keys are widened once per several rows. */
    void (*attn_scores_tiled)(const uint16_t *const *k_rows, size_t n_keys, const float *q,
                              size_t n_rows, size_t n, float scale, float *scores, size_t stride);
    void (*attn_scores_vecdot)(const uint16_t *const *k_rows, size_t n_keys, const float *q,
                               size_t n_rows, size_t n, float scale, float *scores, size_t stride);
    /* lanes[(r·n_lanes + l)·width + d] = the chain acc = fma(v_rows[i][d], p[r·p_stride + i], acc)
     * from 0 over the positions i < n_pos with (pos0 + i) % n_lanes == l, in increasing i: what
     * axpy into lane (pos0 + i) % n_lanes gives, for every row r < n_rows, d < width. */
    void (*attn_values)(const uint16_t *const *v_rows, size_t n_pos, size_t pos0, const float *p,
                        size_t p_stride, size_t n_rows, size_t n_lanes, size_t width, float *lanes);
    /* y[i] = x[i]·scale rounded to float16 (to nearest, ties to even) and widened back: the
     * query and the probabilities where they meet the F16 cache. */
    void (*attn_round_f16)(const float *x, float scale, float *y, size_t n);
    /* ---- attention over a Q8_0 cache: rows of tf_block_q8_0 (n a multiple of 32), the same
     * bits in every table ----
     * scores[r·stride + i] = (lo + hi) · scale for key row i and query row r: each block b of
     * query row r is first quantized as attn_q8_values quantizes a row's weights (below, with
     * every d_ib 1): 16-bit codes c_e and a step s_b. lo and hi are the chains
     * acc = fma(d_b·s_b, (float)S, acc) over the blocks in order from 0, d_b the key block's
     * scale and S the exact integer Σ k_e·c_e over the block's elements e with e mod 16 < 8 (lo)
     * or ≥ 8 (hi). work: tf_attn_q8_work_bytes(n) bytes, 64-byte aligned. v_rows (NULL: none):
     * the same positions' V rows, asked into cache as their keys are scored (a hint; the V sums
     * read them next). */
    void (*attn_q8_scores)(const uint8_t *const *k_rows, const uint8_t *const *v_rows,
                           size_t n_keys, const float *q, size_t n_rows, size_t n, float scale,
                           float *scores, size_t stride, void *work);
    /* out[r·out_stride + e] for rows r < n_rows, e < n, over positions i < n_pos (at most
     * TF_ATTN_Q8_MAX_POS): Σ_i p[r·p_stride + i]·d_ib·v_ie through 16-bit weights, d_ib the scale
     * of e's block b in row i. Per row and block, with w_i = p_ri·d_ib and m the largest |w_i|
     * (NaN skipped): wq_i = the nearest-even integer of w_i·(32767 / m) (NaN as 0, clamped to
     * ±32767), out = (float)(Σ_i wq_i·v_ie, exact in int32) · (m / 32767); a block with m 0 or
     * not finite gets zeros. work: tf_attn_q8_work_bytes(n) bytes, 64-byte aligned. */
    void (*attn_q8_values)(const uint8_t *const *v_rows, size_t n_pos, const float *p,
                           size_t p_stride, size_t n_rows, size_t n, float *out, size_t out_stride,
                           void *work);
} tf_cpu_kernels;

/* A kernel path as TINFER_CPU names it. */
typedef enum tf_cpu_path {
    TF_CPU_PATH_AUTO,    /* the fastest supported */
    TF_CPU_PATH_GENERIC, /* portable C, bit-exact */
    TF_CPU_PATH_AVX2,    /* x86-64-v3, bit-exact with llama.cpp; else generic */
    TF_CPU_PATH_AVX512,  /* AVX-512 VNNI, bit-exact too; else avx2, else generic */
} tf_cpu_path;

/* The path the environment asks for (TINFER_FORCE_GENERIC, then TINFER_CPU). */
tf_cpu_path tf_cpu_path_requested(void);

/* The table a path gets on this CPU in this build. */
const tf_cpu_kernels *tf_cpu_kernels_for(tf_cpu_path path);

/* Whether the table's row tiles read any packed rows (tf_qgemm_args.packed): k->packs != 0. */
bool tf_cpu_kernels_read_packed(const tf_cpu_kernels *k);

/* Whether a set of layouts (TF_PACKS_*) has one for dtype's rows. */
bool tf_cpu_packs_dtype(unsigned packs, tinfer_dtype dtype);

/* The table the environment asks for: tf_cpu_kernels_for(tf_cpu_path_requested()). */
const tf_cpu_kernels *tf_cpu_kernels_select(void);

/* Each table, for tests and benchmarks; x86-64-v3 and avx512 are NULL where not built or not
 * supported by this CPU. */
const tf_cpu_kernels *tf_cpu_kernels_generic(void);
const tf_cpu_kernels *tf_cpu_kernels_x86_v3(void);
const tf_cpu_kernels *tf_cpu_kernels_avx512(void);

/* Whether this build has the x86-64-v3 table (TINFER_X86_KERNELS) or the AVX-512 one
 * (TINFER_AVX512_KERNELS), whatever the CPU. */
bool tf_cpu_kernels_x86_v3_built(void);
bool tf_cpu_kernels_avx512_built(void);

/* The qdot kernel of a weight dtype in table k for token t of an n_tokens-token product with a
 * matrix of n_rows rows (the float order llama.cpp would use there); NULL if the dtype has none. */
tf_qdot_fn tf_cpu_qdot_of(const tf_cpu_kernels *k, tinfer_dtype dtype, uint32_t n_rows,
                          size_t n_tokens, size_t t);

/* The four-row version of a single-row kernel of table k, or NULL. */
tf_qdot4_fn tf_cpu_qdot4_of(const tf_cpu_kernels *k, tf_qdot_fn single);

/* The four-weight-row version of a single-row kernel of table k, or NULL. */
tf_qdot_rows4_fn tf_cpu_qdot_rows4_of(const tf_cpu_kernels *k, tf_qdot_fn single);

/* Whether table k has any row-tile product (they share one per-thread scratch). */
bool tf_cpu_kernels_have_gemm(const tf_cpu_kernels *k);

/* The row-tile product standing for a single-row kernel of table k, or NULL. */
tf_qgemm_fn tf_cpu_qgemm_of(const tf_cpu_kernels *k, tf_qdot_fn single);

/* Reductions shared by both builds (plain float adds, no fma: identical in either build). */

/* ggml's hsum_float_8: (a0+a4 + a2+a6) + (a1+a5 + a3+a7). */
static inline float tf_hsum8(const float a[8]) {
    const float r0 = a[4] + a[0], r1 = a[5] + a[1], r2 = a[6] + a[2], r3 = a[7] + a[3];
    return (r0 + r2) + (r1 + r3);
}

/* The largest of x[0, n) as `x > max` finds it (a NaN is skipped; -INFINITY when there is none),
 * eight lanes at a time (the scalar loop compares one element a cycle): the largest value does
 * not depend on the order. Of +0 and -0, either may come back. */
static inline float tf_max_f32(const float *x, size_t n) {
    float lane[8], max = -INFINITY;
    size_t i = 0;
#if defined(__SSE2__)
    __m128 lo = _mm_set1_ps(-INFINITY), hi = lo;
    for (; i + 8 <= n; i += 8) { /* maxps(a, b) = a > b ? a : b */
        lo = _mm_max_ps(_mm_loadu_ps(x + i), lo);
        hi = _mm_max_ps(_mm_loadu_ps(x + i + 4), hi);
    }
    _mm_storeu_ps(lane, lo);
    _mm_storeu_ps(lane + 4, hi);
#else
    for (int l = 0; l < 8; l++) lane[l] = -INFINITY;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) lane[l] = x[i + l] > lane[l] ? x[i + l] : lane[l];
#endif
    for (int l = 0; l < 8; l++) max = lane[l] > max ? lane[l] : max;
    for (; i < n; i++) max = x[i] > max ? x[i] : max;
    return max;
}

/* Σ x[0, n): eight lanes (lane l adds x[l], x[l + 8], … in order), tf_hsum8, then the last n % 8
 * in order — not a scalar loop's order, whose every add waits on the one before. */
static inline float tf_sum_f32(const float *x, size_t n) {
    float lane[8] = {0};
    size_t i = 0;
#if defined(__SSE2__)
    __m128 lo = _mm_setzero_ps(), hi = lo;
    for (; i + 8 <= n; i += 8) {
        lo = _mm_add_ps(lo, _mm_loadu_ps(x + i));
        hi = _mm_add_ps(hi, _mm_loadu_ps(x + i + 4));
    }
    _mm_storeu_ps(lane, lo);
    _mm_storeu_ps(lane + 4, hi);
#else
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) lane[l] += x[i + l];
#endif
    float sum = tf_hsum8(lane);
    for (; i < n; i++) sum += x[i];
    return sum;
}

/* GGML_F32x8_REDUCE over four 8-lane accumulators s[j][l]: s0+s2, s1+s3, then their sum, then
 * lanes (l, l+4), then hadd twice: (t0+t1) + (t2+t3). */
static inline float tf_reduce4x8(const float s[4][8]) {
    float x[8], t[4];
    for (int l = 0; l < 8; l++) x[l] = (s[0][l] + s[2][l]) + (s[1][l] + s[3][l]);
    for (int l = 0; l < 4; l++) t[l] = x[l] + x[l + 4];
    return (t[0] + t[1]) + (t[2] + t[3]);
}

#endif
