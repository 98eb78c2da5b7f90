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
 * avx_hsum8. It reads the file's rows (tf_qgemm_args.w); packed rows
 * are the avx512 table's alone (tf_cpu_kernels_read_packed is false here). */
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
AVX2_GEMM(avx2_gemm_q5_0, tf_block_q5_0, avx_q5_0_codes(&w[b]))
#undef AVX2_GEMM
