/* Q5_0 and Q8_0 products of many tokens for the x86-64-v3 table (tf_qgemm_fn, cpu_kernels.h),
 * included by cpu_kernels_impl.h inside its AVX2 part (it uses avx_hsum8 and avx_q5_0_codes).
 *
 * A prompt's Q5_0 matrices took half of its time in the four-token dots these replace: about 15
 * operations per (row, token, block), of which the block's unpacking and scale conversion were
 * shared by only four tokens and the scale product was a scalar multiply and a broadcast. Here a
 * weight row is unpacked once for every token of the call (codes, their magnitudes and the block
 * scales, in the scratch), the tokens' activation scales are laid out by block, and eight tokens
 * at a time walk the row: per (row, token, block) the sign, maddubs, madd, convert and fused
 * multiply-add of ggml's own loop, with d_w·d_x one vector multiply per eight tokens.
 *
 * Every (row, token) is exactly the single-row kernel's chain: the same integer lanes, the same d
 * (d_w·d_x, one rounding), acc = fma(d, lanes, acc) over the blocks in order from zero, then
 * avx_hsum8. Q8_0 rows are always the file's (tf_qgemm_args.w); Q5_0 rows are read packed where
 * the caller has them (tf_packed_q5_0 by halves, TF_PACKS_Q5_0_AVX2, below), else from the file. */
#include <assert.h>

/* A weight row unpacked for every token: per block its 32 signed codes, their magnitudes (the
 * unsigned operand of maddubs) and its scale widened. */
typedef struct avx2_unpacked_block {
    __m256i codes, mags;
} avx2_unpacked_block;

enum {
    AVX2_GEMM_TOKENS = 8, /* accumulators in registers: eight of the sixteen */
    /* the tokens' scales of a block, padded so that eight are read from any token */
    AVX2_X_SCALES = TF_QGEMM_TOKENS + AVX2_GEMM_TOKENS,
};

/* Tokens [0, nt) from x_quant of one unpacked row: y[t·y_stride] for each. x_scales[b·AVX2_X_SCALES
 * + t] is token t's scale of block b. */
static inline __attribute__((always_inline)) void
avx2_row_tokens(const avx2_unpacked_block *row, const float *w_scales, uint32_t nb,
                const uint8_t *x_quant, size_t x_stride, const float *x_scales, int nt, float *y,
                size_t y_stride) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[AVX2_GEMM_TOKENS];
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
    for (uint32_t b = 0; b < nb; b++) {
        const __m256i codes = _mm256_load_si256(&row[b].codes);
        const __m256i mags = _mm256_load_si256(&row[b].mags);
        float d[AVX2_GEMM_TOKENS];
        _mm256_storeu_ps(d, _mm256_mul_ps(_mm256_set1_ps(w_scales[b]),
                                          _mm256_loadu_ps(x_scales + b * AVX2_X_SCALES)));
        for (int t = 0; t < nt; t++) {
            const tf_q8_0_act *x = (const tf_q8_0_act *)(x_quant + t * x_stride) + b;
            const __m256i qx = _mm256_loadu_si256((const __m256i *)x->qs);
            const __m256i dot = _mm256_maddubs_epi16(mags, _mm256_sign_epi8(qx, codes));
            const __m256 lanes = _mm256_cvtepi32_ps(_mm256_madd_epi16(dot, ones));
            acc[t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&d[t]), lanes, acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) y[t * y_stride] = avx_hsum8(acc[t]);
}

/* Every token of the call against the unpacked row r, eight at a time (a token count known at
 * compile time for each width, so the accumulators stay in registers). */
static void avx2_row_all_tokens(const tf_qgemm_args *a, const avx2_unpacked_block *row,
                                const float *w_scales, const float *x_scales, uint32_t t_first,
                                uint32_t n_tok, uint32_t r) {
    const uint32_t nb = a->n_elems / 32;
    for (uint32_t t = 0; t < n_tok;) {
        const uint8_t *x = a->x_quant + (size_t)(t_first + t) * a->x_stride;
        float *y = a->y + (size_t)(t_first + t) * a->y_stride + r;
        const float *xs = x_scales + t;
        const uint32_t left = n_tok - t;
        if (left >= 8) {
            avx2_row_tokens(row, w_scales, nb, x, a->x_stride, xs, 8, y, a->y_stride);
            t += 8;
        } else if (left >= 4) {
            avx2_row_tokens(row, w_scales, nb, x, a->x_stride, xs, 4, y, a->y_stride);
            t += 4;
        } else {
            avx2_row_tokens(row, w_scales, nb, x, a->x_stride, xs, 1, y, a->y_stride);
            t += 1;
        }
    }
}

/* The scratch: the unpacked row, its scales, then the tokens' scales by block. */
typedef struct avx2_gemm_scratch {
    avx2_unpacked_block *row;
    float *w_scales, *x_scales;
} avx2_gemm_scratch;

static avx2_gemm_scratch avx2_gemm_scratch_of(const tf_qgemm_args *a) {
    const uint32_t nb = a->n_elems / 32;
    avx2_gemm_scratch s = {.row = a->scratch};
    s.w_scales = (float *)(s.row + nb);
    s.x_scales = s.w_scales + nb;
    /* within tf_qgemm_scratch_bytes: nb · (64 + 4 + 4·AVX2_X_SCALES) ≤ nb · 1600 */
    static_assert(sizeof(avx2_unpacked_block) + sizeof(float) * (1 + AVX2_X_SCALES) <=
                      TF_QGEMM_ROWS * (32 + sizeof(float)) + TF_QGEMM_TOKENS * 8 * 4,
                  "the AVX2 gemm's scratch fits tf_qgemm_scratch_bytes");
    return s;
}

/* Tokens [t_first, t_first + n_tok) (at most TF_QGEMM_TOKENS): their block scales in s, zeros
 * after them (read, never used). */
static void avx2_gather_x_scales(const tf_qgemm_args *a, const avx2_gemm_scratch *s,
                                 uint32_t t_first, uint32_t n_tok) {
    const uint32_t nb = a->n_elems / 32;
    for (uint32_t b = 0; b < nb; b++)
        for (uint32_t t = n_tok; t < AVX2_X_SCALES; t++) s->x_scales[b * AVX2_X_SCALES + t] = 0;
    for (uint32_t t = 0; t < n_tok; t++) {
        const tf_q8_0_act *x =
            (const tf_q8_0_act *)(a->x_quant + (size_t)(t_first + t) * a->x_stride);
        for (uint32_t b = 0; b < nb; b++) s->x_scales[b * AVX2_X_SCALES + t] = x[b].d;
    }
}

#define AVX2_GEMM(NAME, BLOCK, CODES)                                                              \
    static void NAME(const tf_qgemm_args *a) {                                                     \
        const avx2_gemm_scratch s = avx2_gemm_scratch_of(a);                                       \
        const uint32_t nb = a->n_elems / 32;                                                       \
        for (uint32_t t_first = 0; t_first < a->n_tokens; t_first += TF_QGEMM_TOKENS) {            \
            const uint32_t n_tok =                                                                 \
                a->n_tokens - t_first < TF_QGEMM_TOKENS ? a->n_tokens - t_first : TF_QGEMM_TOKENS; \
            avx2_gather_x_scales(a, &s, t_first, n_tok);                                           \
            for (uint32_t r = 0; r < a->n_rows; r++) {                                             \
                const BLOCK *w = (const BLOCK *)(a->w + (size_t)r * a->row_bytes);                 \
                for (uint32_t b = 0; b < nb; b++) {                                                \
                    const __m256i codes = CODES;                                                   \
                    _mm256_store_si256(&s.row[b].codes, codes);                                    \
                    _mm256_store_si256(&s.row[b].mags, _mm256_sign_epi8(codes, codes));            \
                    s.w_scales[b] = _cvtsh_ss(w[b].d);                                             \
                }                                                                                  \
                avx2_row_all_tokens(a, s.row, s.w_scales, s.x_scales, t_first, n_tok, r);          \
            }                                                                                      \
        }                                                                                          \
    }
AVX2_GEMM(avx2_gemm_q8_0, tf_block_q8_0, _mm256_loadu_si256((const __m256i *)w[b].qs))
AVX2_GEMM(avx2_gemm_q5_0_file, tf_block_q5_0, avx_q5_0_codes(&w[b]))
#undef AVX2_GEMM

/* ---- Packed Q5_0 rows (tf_packed_q5_0, fifth bits by halves: made once per model by
 * cpu_packed.c) ----
 *
 * ggml's Q5_0 row loop spends some 22 operations per row and block (32 elements), two thirds of
 * them unpacking the fifth bits and widening the scale, which bound decode's Q5_0 products to
 * about 8 GB/s a core on Zen 3, well under its memory bandwidth. Packed, a register holds eight
 * rows, one per 32-bit lane: for elements 4j..4j+3 of a block, register j's lane r is row r's
 * four codes, unsigned (0..31); maddubs with the token's four bytes broadcast, then madd, give
 * Σ u·x per row, and −16·Σx (per token, block and j, once per call) makes it ggml's integer lane
 * Σ (u − 16)·x exactly. The float part is each row's own chain: acc_j = fma(lane_j, d_w·d_x,
 * acc_j) block by block, then hsum_float_8 across the eight accumulators lane by lane. About 14
 * operations per eight rows and four elements, and the bits of the single-row kernel.
 *
 * For prompts (AVX2_PACKED_ROWS_TOKENS or more tokens) a tile's sixteen rows go back into row order
 * (an 8 × 8 transpose of 32-bit lanes per half and block) into the row-by-token product's scratch,
 * then as for the file's rows. */
enum { AVX2_PACKED_ROWS_TOKENS = 4 };

/* Bit j of every byte of q moved to bit 4, the other bits cleared (j a constant once unrolled;
 * 16-bit shifts of at most four places bring nothing from the next byte to bit 4). */
static inline __attribute__((always_inline)) __m256i avx2_fifth_bits(__m256i q, int j) {
    const __m256i moved = j < 4 ? _mm256_slli_epi16(q, 4 - j) : _mm256_srli_epi16(q, j - 4);
    return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}

/* The unsigned codes of elements 4k..4k+3 (*lo) and 16 + 4k.. (*hi) of half h (rows 8h..8h+7) of
 * a packed block, lane r row 8h + r's. */
static inline __attribute__((always_inline)) void
avx2_packed_codes(const tf_packed_q5_0 *p, int h, __m256i q, int k, __m256i *lo, __m256i *hi) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i v = _mm256_loadu_si256((const __m256i *)(p->qs[k] + 32 * h));
    *lo = _mm256_or_si256(_mm256_and_si256(v, low4), avx2_fifth_bits(q, k));
    *hi =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), low4), avx2_fifth_bits(q, k + 4));
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

/* Asks for block b's share of the bytes at ahead (NULL: none), into L1 (T0; T1 measured the
 * same). On Zen 3 the hardware
 * prefetcher alone left one token's pass over packed tiles at ~12 GB/s from memory, ~14.5 with
 * the tile two ahead requested along the way (one thread). */
static inline void avx2_prefetch_share(const char *ahead, size_t bytes, uint32_t b, uint32_t nb) {
    if (!ahead) return;
    const size_t from = bytes * b / nb, to = bytes * (b + 1) / nb;
    for (size_t at = from & ~(size_t)63; at < to; at += 64)
        __asm__ volatile("prefetcht0 %0" : : "m"(*(ahead + at)));
}

/* One token (x, its offsets off) against half h of a packed tile of nb blocks: y[0..7], rows
 * 8h..8h+7. */
static inline __attribute__((always_inline)) void
avx2_packed_half(const tf_packed_q5_0 *p, uint32_t nb, int h, const tf_q8_0_act *x,
                 const int32_t *off, float *y, const char *ahead, size_t ahead_bytes) {
    __m256 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
    for (uint32_t b = 0; b < nb; b++) {
        avx2_prefetch_share(ahead, ahead_bytes, b, nb);
        const __m256i q = _mm256_loadu_si256((const __m256i *)p[b].qh_halves[h]);
        const __m256 d =
            _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)&p[b].d[8 * h])),
                          _mm256_set1_ps(x[b].d));
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m256i lo, hi;
            avx2_packed_codes(&p[b], h, q, k, &lo, &hi);
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
            avx2_packed_half(p, nb, 0, x, off + t * nb * 8, y, t == 0 ? ahead : NULL, tile_bytes);
            avx2_packed_half(p, nb, 1, x, off + t * nb * 8, y + 8, NULL, 0);
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
        const __m256i q = _mm256_loadu_si256((const __m256i *)p->qh_halves[h]);
        __m256i v[8];
        for (int k = 0; k < 4; k++) avx2_packed_codes(p, h, q, k, &v[k], &v[k + 4]);
        avx2_transpose8(v); /* v[r]: row 8h + r's codes, element order */
        for (int r = 0; r < 8; r++) {
            const __m256i codes = _mm256_sub_epi8(v[r], _mm256_set1_epi8(16));
            _mm256_store_si256(&rows[(size_t)(8 * h + r) * nb].codes, codes);
            _mm256_store_si256(&rows[(size_t)(8 * h + r) * nb].mags,
                               _mm256_sign_epi8(codes, codes));
        }
    }
    for (int r = 0; r < TF_QGEMM_ROWS; r++) w_scales[(size_t)r * nb] = _cvtsh_ss(p->d[r]);
}

/* AVX2_PACKED_ROWS_TOKENS or more tokens (prompts): per tile its rows unpacked once, then every
 * token through them as for the file's rows. Scratch: the sixteen rows, their scales, the
 * tokens' scales. */
static void avx2_packed_q5_0_rows(const tf_qgemm_args *a) {
    const uint32_t nb = a->n_elems / 32, n_tiles = a->n_rows / TF_QGEMM_ROWS;
    const size_t tile_bytes = TF_QGEMM_ROWS * a->row_bytes;
    avx2_unpacked_block *rows = a->scratch;
    float *w_scales = (float *)(rows + (size_t)TF_QGEMM_ROWS * nb);
    const avx2_gemm_scratch s = {.x_scales = w_scales + (size_t)TF_QGEMM_ROWS * nb};
    static_assert(TF_QGEMM_ROWS * (sizeof(avx2_unpacked_block) + sizeof(float)) +
                          sizeof(float) * AVX2_X_SCALES <=
                      TF_QGEMM_ROWS * (32 + sizeof(float)) + TF_QGEMM_TOKENS * 8 * 4,
                  "sixteen unpacked rows fit tf_qgemm_scratch_bytes");
    for (uint32_t t_first = 0; t_first < a->n_tokens; t_first += TF_QGEMM_TOKENS) {
        const uint32_t n_tok =
            a->n_tokens - t_first < TF_QGEMM_TOKENS ? a->n_tokens - t_first : TF_QGEMM_TOKENS;
        avx2_gather_x_scales(a, &s, t_first, n_tok);
        for (uint32_t i = 0; i < n_tiles; i++) {
            const tf_packed_q5_0 *p = (const tf_packed_q5_0 *)(a->packed + i * tile_bytes);
            for (uint32_t b = 0; b < nb; b++)
                avx2_packed_block_rows(&p[b], nb, rows + b, w_scales + b);
            for (uint32_t r = 0; r < TF_QGEMM_ROWS; r++)
                avx2_row_all_tokens(a, rows + (size_t)r * nb, w_scales + (size_t)r * nb, s.x_scales,
                                    t_first, n_tok, i * TF_QGEMM_ROWS + r);
        }
    }
}

/* The table's q5_0_gemm: packed rows where the caller has them (every row in a whole tile). */
static void avx2_gemm_q5_0(const tf_qgemm_args *a) {
    if (!a->packed) avx2_gemm_q5_0_file(a);
    else if (a->n_tokens < AVX2_PACKED_ROWS_TOKENS) avx2_packed_q5_0_lanes(a);
    else avx2_packed_q5_0_rows(a);
}
