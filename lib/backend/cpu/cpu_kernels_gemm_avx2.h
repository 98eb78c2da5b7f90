/* Q5_0 and Q8_0 products of many tokens for the x86-64-v3 table (tf_qgemm_fn, cpu_kernels.h),
 * included by cpu_kernels_impl.h inside its AVX2 part (it uses avx_hsum8 and avx_q5_0_codes).
 *
 * A prompt's Q5_0 matrices took half of its time in the four-token dots these replace: about 15
 * operations per (row, token, block), of which the block's unpacking and scale conversion were
 * shared by only four tokens. Here weight rows are unpacked once for every token of the call
 * (codes, their magnitudes and the block scales, in the scratch), the tokens' codes are repacked
 * four by four (aligned, one stream per quad), and tiles of two rows × four tokens walk the
 * blocks with eight accumulators in registers: per (row, token, block) the sign, maddubs, madd,
 * convert and fused multiply-add of ggml's own loop, each row's magnitudes and each token's codes
 * loaded once per block for the whole tile. On the Zen 3 that is close to what its two vector
 * multiply pipes allow (sign, maddubs, madd and the fma all go there): 0.82 ns per (row, token,
 * block) in cache against 0.93 for one row × eight tokens, whose tokens were eight unaligned
 * streams (15 % less prompt time on the Q8_0-shaped Qwen model, 9-17 % on the default one).
 *
 * Every (row, token) is exactly the single-row kernel's chain: the same integer lanes, the same d
 * (d_w·d_x, one rounding), acc = fma(d, lanes, acc) over the blocks in order from zero, then
 * avx_hsum8. Q8_0 rows are always the file's (tf_qgemm_args.w); Q5_0 rows are read packed where
 * the caller has them (tf_packed_q5_0 by halves, TF_PACKS_Q5_0_AVX2, below), else from the file. */
#include <assert.h>

/* A weight row unpacked for every token: per block its 32 signed codes and their magnitudes (the
 * unsigned operand of maddubs); its scale widened beside. */
typedef struct avx2_unpacked_block {
    __m256i codes, mags;
} avx2_unpacked_block;

/* The block's unpacked form from its signed codes. */
static inline __attribute__((always_inline)) void avx2_unpack_block(avx2_unpacked_block *to,
                                                                    __m256i codes) {
    _mm256_store_si256(&to->codes, codes);
    _mm256_store_si256(&to->mags, _mm256_sign_epi8(codes, codes));
}

/* Four tokens' codes of one block, repacked so that a tile reads them aligned and in one stream
 * (tf_q8_0_act rows are 36 bytes a block: every other 32-byte load split two cache lines). */
typedef struct avx2_quad_block {
    __m256i qs[4];
} avx2_quad_block;

enum {
    AVX2_TILE_ROWS = 2,   /* a tile: two rows × four tokens, eight accumulators in registers */
    AVX2_TILE_TOKENS = 4, /* (the rows' magnitudes, a token's codes and temporaries the rest) */
    AVX2_QUADS = TF_QGEMM_TOKENS / AVX2_TILE_TOKENS,
};

/* The scratch: up to TF_QGEMM_ROWS unpacked rows row by row (row r's block b at r·nb + b) and
 * their scales, then the tokens by quads (quad q's block b at q·nb + b) and their scales (four
 * per quad and block). Padding tokens of a last quad have zero codes and scales. */
typedef struct avx2_gemm_scratch {
    avx2_unpacked_block *rows;
    float *w_scales;
    avx2_quad_block *x;
    float *x_scales;
} avx2_gemm_scratch;

static avx2_gemm_scratch avx2_gemm_scratch_of(const tf_qgemm_args *a) {
    const uint32_t nb = a->n_elems / 32;
    avx2_gemm_scratch s = {.rows = a->scratch};
    s.w_scales = (float *)(s.rows + (size_t)TF_QGEMM_ROWS * nb);
    s.x = (avx2_quad_block *)(s.w_scales + (size_t)TF_QGEMM_ROWS * nb);
    s.x_scales = (float *)(s.x + (size_t)AVX2_QUADS * nb);
    static_assert(TF_QGEMM_ROWS * (sizeof(avx2_unpacked_block) + sizeof(float)) +
                          AVX2_QUADS * (sizeof(avx2_quad_block) + 4 * sizeof(float)) <=
                      TF_QGEMM_BLOCK_SCRATCH,
                  "the AVX2 gemm's scratch fits tf_qgemm_scratch_bytes");
    static_assert(TF_QGEMM_ROWS * sizeof(float) % 32 == 0, "the quads stay 32-byte aligned");
    return s;
}

/* Tokens [t_first, t_first + n_tok) (at most TF_QGEMM_TOKENS) into the scratch's quads. */
static void avx2_gather_tokens(const tf_qgemm_args *a, const avx2_gemm_scratch *s, uint32_t t_first,
                               uint32_t n_tok) {
    const uint32_t nb = a->n_elems / 32;
    const uint32_t n_padded = (n_tok + AVX2_TILE_TOKENS - 1) / AVX2_TILE_TOKENS * AVX2_TILE_TOKENS;
    for (uint32_t t = 0; t < n_padded; t++) {
        avx2_quad_block *quad = s->x + (size_t)(t / AVX2_TILE_TOKENS) * nb;
        float *scales = s->x_scales + (size_t)(t / AVX2_TILE_TOKENS) * nb * AVX2_TILE_TOKENS;
        const int i = t % AVX2_TILE_TOKENS;
        const tf_q8_0_act *x =
            (const tf_q8_0_act *)(a->x_quant + (size_t)(t_first + t) * a->x_stride);
        for (uint32_t b = 0; b < nb; b++) {
            quad[b].qs[i] =
                t < n_tok ? _mm256_loadu_si256((const __m256i *)x[b].qs) : _mm256_setzero_si256();
            scales[b * AVX2_TILE_TOKENS + i] = t < n_tok ? x[b].d : 0.0f;
        }
    }
}

/* n_rows (1 or 2, a constant once inlined) unpacked rows against one quad of tokens, of which the
 * first n_tok are real: y[t·y_stride + r]. Per (row, token, block) the sign, maddubs, madd,
 * convert and fused multiply-add of ggml's loop; a row's magnitudes and a token's codes are each
 * loaded once per tile and block, and d_w·d_x is one vector multiply per row and block. */
static inline __attribute__((always_inline)) void avx2_tile(const avx2_unpacked_block *rows,
                                                            const float *w_scales, uint32_t nb,
                                                            int n_rows, const avx2_quad_block *x,
                                                            const float *x_scales, uint32_t n_tok,
                                                            float *y, size_t y_stride) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[AVX2_TILE_ROWS][AVX2_TILE_TOKENS];
    for (int r = 0; r < n_rows; r++)
        for (int t = 0; t < AVX2_TILE_TOKENS; t++) acc[r][t] = _mm256_setzero_ps();
    for (uint32_t b = 0; b < nb; b++) {
        float d[AVX2_TILE_ROWS][AVX2_TILE_TOKENS];
        __m256i mags[AVX2_TILE_ROWS];
        const __m128 d_x = _mm_load_ps(x_scales + (size_t)b * AVX2_TILE_TOKENS);
        for (int r = 0; r < n_rows; r++) {
            _mm_storeu_ps(d[r], _mm_mul_ps(_mm_set1_ps(w_scales[(size_t)r * nb + b]), d_x));
            mags[r] = _mm256_load_si256(&rows[(size_t)r * nb + b].mags);
        }
        for (int t = 0; t < AVX2_TILE_TOKENS; t++) {
            const __m256i qx = _mm256_load_si256(&x[b].qs[t]);
            for (int r = 0; r < n_rows; r++) {
                const __m256i signed_x = _mm256_sign_epi8(qx, rows[(size_t)r * nb + b].codes);
                const __m256i dot = _mm256_maddubs_epi16(mags[r], signed_x);
                const __m256 lanes = _mm256_cvtepi32_ps(_mm256_madd_epi16(dot, ones));
                acc[r][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&d[r][t]), lanes, acc[r][t]);
            }
        }
    }
    /* every sum with constant indices (the accumulators stay in registers), then the real ones */
    float sums[AVX2_TILE_TOKENS][AVX2_TILE_ROWS];
    for (int t = 0; t < AVX2_TILE_TOKENS; t++)
        for (int r = 0; r < n_rows; r++) sums[t][r] = avx_hsum8(acc[r][t]);
    for (uint32_t t = 0; t < n_tok; t++)
        for (int r = 0; r < n_rows; r++) y[t * y_stride + r] = sums[t][r];
}

/* n_rows (at most two) unpacked rows from row r on with every token of the scratch's quads. */
static void avx2_rows_all_tokens(const tf_qgemm_args *a, const avx2_gemm_scratch *s,
                                 const avx2_unpacked_block *rows, const float *w_scales, int n_rows,
                                 uint32_t t_first, uint32_t n_tok, uint32_t r) {
    const uint32_t nb = a->n_elems / 32;
    for (uint32_t q = 0; q * AVX2_TILE_TOKENS < n_tok; q++) {
        const uint32_t t = q * AVX2_TILE_TOKENS;
        const uint32_t n = n_tok - t < AVX2_TILE_TOKENS ? n_tok - t : AVX2_TILE_TOKENS;
        const avx2_quad_block *x = s->x + (size_t)q * nb;
        const float *x_scales = s->x_scales + (size_t)q * nb * AVX2_TILE_TOKENS;
        float *y = a->y + (size_t)(t_first + t) * a->y_stride + r;
        if (n_rows == 2) avx2_tile(rows, w_scales, nb, 2, x, x_scales, n, y, a->y_stride);
        else avx2_tile(rows, w_scales, nb, 1, x, x_scales, n, y, a->y_stride);
    }
}

/* The file's rows, two at a time unpacked into the scratch, each pair with every token. */
#define AVX2_GEMM(NAME, BLOCK, CODES)                                                              \
    static void NAME(const tf_qgemm_args *a) {                                                     \
        const avx2_gemm_scratch s = avx2_gemm_scratch_of(a);                                       \
        const uint32_t nb = a->n_elems / 32;                                                       \
        for (uint32_t t_first = 0; t_first < a->n_tokens; t_first += TF_QGEMM_TOKENS) {            \
            const uint32_t n_tok =                                                                 \
                a->n_tokens - t_first < TF_QGEMM_TOKENS ? a->n_tokens - t_first : TF_QGEMM_TOKENS; \
            avx2_gather_tokens(a, &s, t_first, n_tok);                                             \
            for (uint32_t r = 0; r < a->n_rows; r += AVX2_TILE_ROWS) {                             \
                const int n_rows = a->n_rows - r < AVX2_TILE_ROWS ? 1 : AVX2_TILE_ROWS;            \
                for (int i = 0; i < n_rows; i++) {                                                 \
                    const BLOCK *w = (const BLOCK *)(a->w + (size_t)(r + i) * a->row_bytes);       \
                    avx2_unpacked_block *row = s.rows + (size_t)i * nb;                            \
                    for (uint32_t b = 0; b < nb; b++) {                                            \
                        const __m256i codes = CODES;                                               \
                        avx2_unpack_block(&row[b], codes);                                         \
                        s.w_scales[(size_t)i * nb + b] = _cvtsh_ss(w[b].d);                        \
                    }                                                                              \
                }                                                                                  \
                avx2_rows_all_tokens(a, &s, s.rows, s.w_scales, n_rows, t_first, n_tok, r);        \
            }                                                                                      \
        }                                                                                          \
    }
AVX2_GEMM(avx2_gemm_q8_0, tf_block_q8_0, _mm256_loadu_si256((const __m256i *)w[b].qs))
AVX2_GEMM(avx2_gemm_q5_0_file, tf_block_q5_0, avx_q5_0_codes(&w[b]))
#undef AVX2_GEMM

/* ---- Packed Q5_0 rows (tf_packed_q5_0, whole codes in bytes: made once per model by
 * cpu_packed.c) ----
 *
 * ggml's Q5_0 row loop spends some 22 operations per row and block (32 elements), two thirds of
 * them unpacking the fifth bits and widening the scale, which bound decode's Q5_0 products to
 * about 8 GB/s a core on Zen 3, well under its memory bandwidth. Packed, a register holds eight
 * rows, one per 32-bit lane: for elements 4j..4j+3 of a block, register j's lane r is row r's
 * four codes, unsigned (0..31); maddubs with the token's four bytes broadcast, then madd, give
 * Σ u·x per row, and −16·Σx (per token, block and j, once per call) makes it ggml's integer lane
 * Σ (u − 16)·x exactly. The float part is each row's own chain: acc_j = fma(lane_j, d_w·d_x,
 * acc_j) block by block, then hsum_float_8 across the eight accumulators lane by lane. About 8
 * operations per eight rows and four elements (3 of them unpacking; 4.5 with the fifth bits kept
 * apart as in the file), and the bits of the single-row kernel.
 *
 * For prompts (AVX2_PACKED_ROWS_TOKENS or more tokens) a tile's sixteen rows go back into row order
 * (an 8 × 8 transpose of 32-bit lanes per half and block) into the row-by-token product's scratch,
 * then as for the file's rows. */
enum { AVX2_PACKED_ROWS_TOKENS = 4 };

/* Bits 2k..2k + 1 of every byte of tops moved to bits 3-4, the other bits cleared (k a constant
 * once unrolled; 16-bit shifts of at most three places bring nothing from the next byte to bits
 * 3-4). */
static inline __attribute__((always_inline)) __m256i avx2_top_bits(__m256i tops, int k) {
    const __m256i moved =
        k < 2 ? _mm256_slli_epi16(tops, 3 - 2 * k) : _mm256_srli_epi16(tops, 2 * k - 3);
    return _mm256_and_si256(moved, _mm256_set1_epi8(0x18));
}

/* The unsigned codes of elements 4k..4k+3 (*lo) and 16 + 4k.. (*hi) of half h (rows 8h..8h+7) of
 * a packed block whose tops[h] is in tops, lane r row 8h + r's. */
static inline __attribute__((always_inline)) void
avx2_packed_codes(const tf_packed_q5_0 *p, int h, __m256i tops, int k, __m256i *lo, __m256i *hi) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)(p->codes[k] + 32 * h));
    *lo = _mm256_and_si256(v, _mm256_set1_epi8(0x1F));
    *hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 5), _mm256_set1_epi8(0x07)),
                          avx2_top_bits(tops, k));
}

/* −16·Σ x over elements 4j..4j+3 of each block of token x: off[b·8 + j]. */
static void avx2_q5_0_offsets(const tf_q8_0_act *x, uint32_t nb, int32_t *off) {
    for (uint32_t b = 0; b < nb; b++) {
        const __m256i qx = _mm256_loadu_si256((const __m256i *)x[b].qs);
        const __m256i sums =
            _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), qx), _mm256_set1_epi16(1));
        _mm256_storeu_si256((__m256i *)(off + b * 8),
                            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 4)));
    }
}

static inline int32_t avx2_load4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* ggml's integer lane of four codes per row (u) with four activation bytes (x4) and its offset. */
static inline __m256 avx2_packed_lane(__m256i u, int32_t x4, int32_t off) {
    const __m256i sums =
        _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_set1_epi32(x4)), _mm256_set1_epi16(1));
    return _mm256_cvtepi32_ps(_mm256_add_epi32(sums, _mm256_set1_epi32(off)));
}

/* Asks for block b's bytes (block_bytes each) of a later tile at ahead (NULL: none), into L1 (T0;
 * T1 measured the same). On Zen 3 the hardware prefetcher alone left one token's pass over packed
 * tiles at ~12 GB/s from memory, ~14.5 with the tile two ahead requested along the way (one
 * thread). Multiplications only: the share had been bytes·b / nb, two 64-bit divisions a block
 * (a few per cent of a Q5_0 decode's time in cache). */
static inline void avx2_prefetch_share(const char *ahead, size_t block_bytes, uint32_t b) {
    if (!ahead) return;
    const size_t from = block_bytes * b, to = from + block_bytes;
    for (size_t at = from & ~(size_t)63; at < to; at += 64)
        __asm__ volatile("prefetcht0 %0" : : "m"(*(ahead + at)));
}

/* One token (x, its offsets off) against half h of a packed tile of nb blocks: y[0..7], rows
 * 8h..8h+7. */
static inline __attribute__((always_inline)) void
avx2_packed_half(const tf_packed_q5_0 *p, uint32_t nb, int h, const tf_q8_0_act *x,
                 const int32_t *off, float *y, const char *ahead) {
    __m256 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
    for (uint32_t b = 0; b < nb; b++) {
        avx2_prefetch_share(ahead, sizeof *p, b);
        const __m256i tops = _mm256_loadu_si256((const __m256i *)p[b].tops[h]);
        const __m256 d =
            _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)&p[b].d[8 * h])),
                          _mm256_set1_ps(x[b].d));
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m256i lo, hi;
            avx2_packed_codes(&p[b], h, tops, k, &lo, &hi);
            const __m256 lane_lo =
                avx2_packed_lane(lo, avx2_load4(x[b].qs + 4 * k), off[b * 8 + k]);
            const __m256 lane_hi =
                avx2_packed_lane(hi, avx2_load4(x[b].qs + 16 + 4 * k), off[b * 8 + k + 4]);
            acc[k] = _mm256_fmadd_ps(lane_lo, d, acc[k]);
            acc[k + 4] = _mm256_fmadd_ps(lane_hi, d, acc[k + 4]);
        }
    }
    const __m256 r0 = _mm256_add_ps(acc[4], acc[0]), r1 = _mm256_add_ps(acc[5], acc[1]);
    const __m256 r2 = _mm256_add_ps(acc[6], acc[2]), r3 = _mm256_add_ps(acc[7], acc[3]);
    _mm256_storeu_ps(y, _mm256_add_ps(_mm256_add_ps(r0, r2), _mm256_add_ps(r1, r3)));
}

enum { AVX2_PREFETCH_TILES = 2 };

/* Fewer than AVX2_PACKED_ROWS_TOKENS tokens (decode): every tile with each token, in registers. */
static void avx2_packed_q5_0_lanes(const tf_qgemm_args *a) {
    const uint32_t nb = a->n_elems / 32, n_tiles = a->n_rows / TF_QGEMM_ROWS;
    const size_t tile_bytes = TF_QGEMM_ROWS * a->row_bytes;
    int32_t *off = a->scratch; /* nb · 8 per token: within tf_qgemm_scratch_bytes */
    static_assert(AVX2_PACKED_ROWS_TOKENS * 8 * 4 <= TF_QGEMM_ROWS * (32 + sizeof(float)),
                  "the offsets fit the scratch");
    for (uint32_t t = 0; t < a->n_tokens; t++)
        avx2_q5_0_offsets((const tf_q8_0_act *)(a->x_quant + t * a->x_stride), nb,
                          off + t * nb * 8);
    for (uint32_t i = 0; i < n_tiles; i++) {
        const tf_packed_q5_0 *p = (const tf_packed_q5_0 *)(a->packed + i * tile_bytes);
        const char *ahead = i + AVX2_PREFETCH_TILES < n_tiles
                                ? (const char *)a->packed + (i + AVX2_PREFETCH_TILES) * tile_bytes
                                : NULL;
        for (uint32_t t = 0; t < a->n_tokens; t++) {
            const tf_q8_0_act *x = (const tf_q8_0_act *)(a->x_quant + t * a->x_stride);
            float *y = a->y + t * a->y_stride + (size_t)i * TF_QGEMM_ROWS;
            /* the first pass reads the tile from memory (and asks for a later one); the others
             * find it in L1 */
            avx2_packed_half(p, nb, 0, x, off + t * nb * 8, y, t == 0 ? ahead : NULL);
            avx2_packed_half(p, nb, 1, x, off + t * nb * 8, y + 8, NULL);
        }
    }
}

/* v[j] lane r → v[r] lane j (an 8 × 8 transpose of 32-bit lanes). */
static inline __attribute__((always_inline)) void avx2_transpose8(__m256i v[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(v[i], v[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
        v[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
    }
}

/* Block b of a packed tile's sixteen rows in row order: row r's signed codes, their magnitudes
 * and its scale widened at rows[r·nb + b], w_scales[r·nb + b], as the file rows' unpacking
 * leaves them. */
static inline void avx2_packed_block_rows(const tf_packed_q5_0 *p, uint32_t nb,
                                          avx2_unpacked_block *rows, float *w_scales) {
    for (int h = 0; h < 2; h++) {
        const __m256i tops = _mm256_loadu_si256((const __m256i *)p->tops[h]);
        __m256i v[8];
        for (int k = 0; k < 4; k++) avx2_packed_codes(p, h, tops, k, &v[k], &v[k + 4]);
        avx2_transpose8(v); /* v[r]: row 8h + r's codes, element order */
        for (int r = 0; r < 8; r++) {
            const __m256i codes = _mm256_sub_epi8(v[r], _mm256_set1_epi8(16));
            avx2_unpack_block(&rows[(size_t)(8 * h + r) * nb], codes);
        }
    }
    for (int r = 0; r < TF_QGEMM_ROWS; r++) w_scales[(size_t)r * nb] = _cvtsh_ss(p->d[r]);
}

/* AVX2_PACKED_ROWS_TOKENS or more tokens (prompts): per tile its rows unpacked once, then every
 * token through them two rows at a time as for the file's rows. */
static void avx2_packed_q5_0_rows(const tf_qgemm_args *a) {
    const uint32_t nb = a->n_elems / 32, n_tiles = a->n_rows / TF_QGEMM_ROWS;
    const size_t tile_bytes = TF_QGEMM_ROWS * a->row_bytes;
    const avx2_gemm_scratch s = avx2_gemm_scratch_of(a);
    for (uint32_t t_first = 0; t_first < a->n_tokens; t_first += TF_QGEMM_TOKENS) {
        const uint32_t n_tok =
            a->n_tokens - t_first < TF_QGEMM_TOKENS ? a->n_tokens - t_first : TF_QGEMM_TOKENS;
        avx2_gather_tokens(a, &s, t_first, n_tok);
        for (uint32_t i = 0; i < n_tiles; i++) {
            const tf_packed_q5_0 *p = (const tf_packed_q5_0 *)(a->packed + i * tile_bytes);
            for (uint32_t b = 0; b < nb; b++)
                avx2_packed_block_rows(&p[b], nb, s.rows + b, s.w_scales + b);
            for (uint32_t r = 0; r < TF_QGEMM_ROWS; r += AVX2_TILE_ROWS)
                avx2_rows_all_tokens(a, &s, s.rows + (size_t)r * nb, s.w_scales + (size_t)r * nb,
                                     AVX2_TILE_ROWS, t_first, n_tok, i * TF_QGEMM_ROWS + r);
        }
    }
}

/* The table's q5_0_gemm: packed rows where the caller has them (every row in a whole tile). */
static void avx2_gemm_q5_0(const tf_qgemm_args *a) {
    if (!a->packed) avx2_gemm_q5_0_file(a);
    else if (a->n_tokens < AVX2_PACKED_ROWS_TOKENS) avx2_packed_q5_0_lanes(a);
    else avx2_packed_q5_0_rows(a);
}

/* ---- TINFER_PROMPT_SUM_FAST's order over packed Q5_0 rows (q5_0_gemm_fast) ----
 *
 * ggml's order converts and multiply-adds each block's eight integer lanes in float: per (row,
 * token, block) a maddubs, a madd, the offset's add, a conversion and a multiply-add, some 0.8 ns
 * on this Zen 3 against 0.3 for the integer work alone. The fast order sums the block's 32
 * products in integers (exact) and takes one conversion and one multiply-add per block:
 * acc = fma((float)isum_b, d_w·d_x, acc), blocks in order, as q8_0_gemm_fast does for Q8_0.
 *
 * Rows stay in lanes, eight a register, as the packed tile has them: per block and element group
 * j (elements 4j..4j+3) the rows' unsigned codes (0..31) times the token's four bytes broadcast
 * (maddubs: two products, at most 2·31·128 a 16-bit lane), four groups added in 16 bits (at most
 * 31 744, so even a −128 byte cannot saturate), two madds to 32 bits, then the −16·Σx offset of
 * the block makes it Σ (u − 16)·x, the block's exact integer dot. Per eight rows, token and block
 * about 21 vector operations where ggml's order takes 40, and no horizontal sums: a row's sum is
 * its lane. */

/* A packed tile unpacked for every token: per half and block the eight groups' codes, rows in
 * lanes, and the rows' scales widened. */
typedef struct avx2_fast_block {
    __m256i codes[8]; /* [j] lane r: row 8h + r's unsigned codes of elements 4j..4j+3 */
    __m256 d_w;       /* lane r: row 8h + r's scale */
} avx2_fast_block;

/* Tile p's blocks into tile[h·nb + b] (h the half). */
static void avx2_fast_unpack(const tf_packed_q5_0 *p, uint32_t nb, avx2_fast_block *tile) {
    for (uint32_t b = 0; b < nb; b++)
        for (int h = 0; h < 2; h++) {
            avx2_fast_block *out = &tile[(size_t)h * nb + b];
            const __m256i tops = _mm256_loadu_si256((const __m256i *)p[b].tops[h]);
            for (int k = 0; k < 4; k++) {
                __m256i lo, hi;
                avx2_packed_codes(&p[b], h, tops, k, &lo, &hi);
                _mm256_store_si256(&out->codes[k], lo);
                _mm256_store_si256(&out->codes[k + 4], hi);
            }
            out->d_w = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)&p[b].d[8 * h]));
        }
}

/* −16·Σ x over each block of token x: off[b]. */
static void avx2_fast_offsets(const tf_q8_0_act *x, uint32_t nb, int32_t *off) {
    for (uint32_t b = 0; b < nb; b++) {
        int32_t sum = 0;
        for (int i = 0; i < 32; i++) sum += x[b].qs[i];
        off[b] = -16 * sum;
    }
}

/* n_x tokens (1 or 2, a constant once inlined) against one half of an unpacked tile: y[t][0..7].
 * The two tokens share each group's codes. */
static inline __attribute__((always_inline)) void
avx2_fast_tokens(const avx2_fast_block *half, uint32_t nb, int n_x, const tf_q8_0_act *const x[2],
                 const int32_t *const off[2], float *const y[2]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (uint32_t b = 0; b < nb; b++) {
        __m256i isum[2];
        for (int g = 0; g < 2; g++) { /* groups 4g..4g + 3, summed in 16 bits */
            __m256i pairs[2];
            const __m256i first = _mm256_load_si256(&half[b].codes[4 * g]);
            for (int t = 0; t < n_x; t++)
                pairs[t] =
                    _mm256_maddubs_epi16(first, _mm256_set1_epi32(avx2_load4(x[t][b].qs + 16 * g)));
            for (int j = 4 * g + 1; j < 4 * g + 4; j++) {
                const __m256i codes = _mm256_load_si256(&half[b].codes[j]);
                for (int t = 0; t < n_x; t++)
                    pairs[t] = _mm256_add_epi16(
                        pairs[t], _mm256_maddubs_epi16(
                                      codes, _mm256_set1_epi32(avx2_load4(x[t][b].qs + 4 * j))));
            }
            for (int t = 0; t < n_x; t++) {
                const __m256i wide = _mm256_madd_epi16(pairs[t], ones);
                isum[t] = g == 0 ? wide : _mm256_add_epi32(isum[t], wide);
            }
        }
        for (int t = 0; t < n_x; t++) {
            const __m256i dot = _mm256_add_epi32(isum[t], _mm256_set1_epi32(off[t][b]));
            const __m256 d = _mm256_mul_ps(half[b].d_w, _mm256_set1_ps(x[t][b].d));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), d, acc[t]);
        }
    }
    for (int t = 0; t < n_x; t++) _mm256_storeu_ps(y[t], acc[t]);
}

/* The table's q5_0_gemm_fast: packed rows only (every row in a whole tile); the tokens in groups
 * of TF_QGEMM_TOKENS, their offsets made once per group, each tile unpacked once per group. */
static void avx2_gemm_q5_0_fast(const tf_qgemm_args *a) {
    const uint32_t nb = a->n_elems / 32, n_tiles = a->n_rows / TF_QGEMM_ROWS;
    const size_t tile_bytes = TF_QGEMM_ROWS * a->row_bytes;
    avx2_fast_block *tile = a->scratch;
    int32_t *off = (int32_t *)(tile + 2 * (size_t)nb);
    static_assert(2 * sizeof(avx2_fast_block) + TF_QGEMM_TOKENS * sizeof(int32_t) <=
                      TF_QGEMM_BLOCK_SCRATCH,
                  "the fast order's tile and offsets fit tf_qgemm_scratch_bytes");
    for (uint32_t t0 = 0; t0 < a->n_tokens; t0 += TF_QGEMM_TOKENS) {
        const uint32_t n_t =
            a->n_tokens - t0 < TF_QGEMM_TOKENS ? a->n_tokens - t0 : TF_QGEMM_TOKENS;
        for (uint32_t t = 0; t < n_t; t++)
            avx2_fast_offsets((const tf_q8_0_act *)(a->x_quant + (t0 + t) * a->x_stride), nb,
                              off + (size_t)t * nb);
        for (uint32_t i = 0; i < n_tiles; i++) {
            avx2_fast_unpack((const tf_packed_q5_0 *)(a->packed + i * tile_bytes), nb, tile);
            for (int h = 0; h < 2; h++)
                for (uint32_t t = 0; t < n_t; t += 2) {
                    const int n_x = n_t - t >= 2 ? 2 : 1;
                    const tf_q8_0_act *x[2];
                    const int32_t *o[2];
                    float *y[2];
                    for (int k = 0; k < n_x; k++) {
                        x[k] = (const tf_q8_0_act *)(a->x_quant + (t0 + t + k) * a->x_stride);
                        o[k] = off + (size_t)(t + k) * nb;
                        y[k] =
                            a->y + (t0 + t + k) * a->y_stride + (size_t)i * TF_QGEMM_ROWS + 8 * h;
                    }
                    if (n_x == 2) avx2_fast_tokens(tile + (size_t)h * nb, nb, 2, x, o, y);
                    else avx2_fast_tokens(tile + (size_t)h * nb, nb, 1, x, o, y);
                }
        }
    }
}

/* ---- The same fast order over the file's Q8_0 rows (q8_0_gemm_fast: prompts; the output head
 * takes it only from packed rows, which this table has not) ----
 *
 * Eight rows at a time go into lanes (an 8 × 8 transpose of each block's 32-bit groups), their
 * codes and magnitudes kept for every token. Signed codes need ggml's sign trick per product
 * (maddubs of the magnitudes with the token's bytes signed by the codes: at most 2·128·127 a
 * 16-bit lane, exact for activations from −127 up, as quantize_q8_0 makes them), so each group
 * goes to 32 bits alone: about 0.59 ns per (row, token, block) in the tile against ggml order's
 * 0.82, where Q5_0's unsigned codes allow 0.39. */

/* Eight rows unpacked for every token: per block the groups' codes and magnitudes, rows in lanes,
 * and the rows' scales widened. */
typedef struct avx2_fast8_block {
    __m256i codes[8], mags[8]; /* [j] lane r: row r's codes of elements 4j..4j+3, |codes| */
    __m256 d_w;
} avx2_fast8_block;

/* Rows [r0, r0 + n) (n ≤ 8; missing rows zero) of the file into half[b], every block. */
static void avx2_fast8_unpack(const tf_qgemm_args *a, uint32_t r0, uint32_t n,
                              avx2_fast8_block *half) {
    const uint32_t nb = a->n_elems / 32;
    for (uint32_t b = 0; b < nb; b++) {
        __m256i v[8];
        _Alignas(16) uint16_t d[8] = {0};
        for (uint32_t r = 0; r < 8; r++) {
            const tf_block_q8_0 *w =
                r < n ? (const tf_block_q8_0 *)(a->w + (size_t)(r0 + r) * a->row_bytes) + b : NULL;
            v[r] = w ? _mm256_loadu_si256((const __m256i *)w->qs) : _mm256_setzero_si256();
            if (w) d[r] = w->d;
        }
        avx2_transpose8(v); /* v[j] lane r: row r's group j */
        for (int j = 0; j < 8; j++) {
            _mm256_store_si256(&half[b].codes[j], v[j]);
            _mm256_store_si256(&half[b].mags[j], _mm256_sign_epi8(v[j], v[j]));
        }
        half[b].d_w = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)d));
    }
}

/* n_x tokens (1 or 2) against eight unpacked rows: y[t][0..7]. */
static inline __attribute__((always_inline)) void avx2_fast8_tokens(const avx2_fast8_block *half,
                                                                    uint32_t nb, int n_x,
                                                                    const tf_q8_0_act *const x[2],
                                                                    float *const y[2]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (uint32_t b = 0; b < nb; b++) {
        __m256i isum[2];
        for (int j = 0; j < 8; j++) {
            const __m256i codes = _mm256_load_si256(&half[b].codes[j]);
            const __m256i mags = _mm256_load_si256(&half[b].mags[j]);
            for (int t = 0; t < n_x; t++) {
                const __m256i signed_x =
                    _mm256_sign_epi8(_mm256_set1_epi32(avx2_load4(x[t][b].qs + 4 * j)), codes);
                const __m256i group = _mm256_madd_epi16(_mm256_maddubs_epi16(mags, signed_x), ones);
                isum[t] = j == 0 ? group : _mm256_add_epi32(isum[t], group);
            }
        }
        for (int t = 0; t < n_x; t++) {
            const __m256 d = _mm256_mul_ps(half[b].d_w, _mm256_set1_ps(x[t][b].d));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), d, acc[t]);
        }
    }
    for (int t = 0; t < n_x; t++) _mm256_storeu_ps(y[t], acc[t]);
}

/* The table's q8_0_gemm_fast: the file's rows (a->w), eight at a time, any row count (the last
 * eight padded with zero rows, their lanes not stored), the tokens two at a time. */
static void avx2_gemm_q8_0_fast(const tf_qgemm_args *a) {
    const uint32_t nb = a->n_elems / 32;
    avx2_fast8_block *half = a->scratch;
    static_assert(sizeof(avx2_fast8_block) <= TF_QGEMM_BLOCK_SCRATCH,
                  "eight unpacked rows fit tf_qgemm_scratch_bytes");
    for (uint32_t r0 = 0; r0 < a->n_rows; r0 += 8) {
        const uint32_t n = a->n_rows - r0 < 8 ? a->n_rows - r0 : 8;
        avx2_fast8_unpack(a, r0, n, half);
        for (uint32_t t = 0; t < a->n_tokens; t += 2) {
            const int n_x = a->n_tokens - t >= 2 ? 2 : 1;
            const tf_q8_0_act *x[2];
            float out[2][8], *y[2] = {out[0], out[1]};
            for (int k = 0; k < n_x; k++)
                x[k] = (const tf_q8_0_act *)(a->x_quant + (t + k) * a->x_stride);
            if (n_x == 2) avx2_fast8_tokens(half, nb, 2, x, y);
            else avx2_fast8_tokens(half, nb, 1, x, y);
            for (int k = 0; k < n_x; k++)
                memcpy(a->y + (t + k) * a->y_stride + r0, out[k], n * sizeof(float));
        }
    }
}
