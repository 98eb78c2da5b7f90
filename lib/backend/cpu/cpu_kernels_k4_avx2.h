/* Q4_K row tiles for the x86-64-v3 table (q4_k_rows4_gemm: prompts, ggml's gemm order, span 2;
 * q4_k_rows_gemm: single tokens, its gemv order, span 8), included by cpu_kernels_impl.h in its
 * AVX2 part after the row kernels they fall back on.
 *
 * They read the rows packed (tf_packed_q4_k, TF_PACKS_Q4_K: the avx512 table's layout), each
 * 64-byte group as two halves of eight rows, lane r of a half row 8h + r's: for 4 elements j of a
 * sub-block pair, one 32-byte load gives eight rows' codes of both sub-blocks (low and high
 * nibbles), and maddubs with the token's 4 activation bytes broadcast gives each row's pair sums.
 * Those are summed over the sub-block's 8 groups in 16 bits (at most 16 · 15 · 128 < 2^15), then
 * one madd with the row's scale as an int16 pair makes the row's 32-bit sum of the sub-block.
 * About 2 operations per row and 8 elements of one token, where the row kernels (q4_k_x1,
 * q4_k_x4_span2) spend 5-6 with their unpacking and horizontal sums; no horizontal sum at all.
 *
 * Every integer is exact (any order gives the same), and the float steps are the row kernels':
 * per span acc = fma(isum, d_w·d_x, acc) and acc_min = fma(smin, dmin_w·d_x, acc_min), the span's
 * mins sum being Σ min_s · (bsums[2s] + bsums[2s + 1]); then acc − acc_min. Rows outside whole
 * packed tiles (or without a packed copy) take the row kernels. */

/* One super-block's header for half h of a packed tile: per sub-block the rows' scales as int16
 * pairs [s, s] (madd's multiplier), the mins of sub-blocks 2p, 2p + 1 as an int16 pair, and d,
 * dmin widened. */
typedef struct avx2_k4_head {
    __m256i scale2[8], min2[4];
    __m256 d_w, dmin_w;
} avx2_k4_head;

/* The low (pick 0) or high 16 bits of each 32-bit lane, as eight float16 widened. */
static inline __m256 avx2_k4_halves(__m256i v, int high) {
    const __m256i pick =
        high ? _mm256_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, 2, 3, 6,
                                7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1)
             : _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4,
                                5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i packed =
        _mm256_permute4x64_epi64(_mm256_shuffle_epi8(v, pick), _MM_SHUFFLE(3, 1, 2, 0));
    return _mm256_cvtph_ps(_mm256_castsi256_si128(packed));
}

/* tf_k4_scale_min lane-wise, from head[1..3] (scale bytes 0-3, 4-7, 8-11) of half h. */
static inline __attribute__((always_inline)) void avx2_k4_head_of(const tf_packed_q4_k *p, int h,
                                                                  avx2_k4_head *k) {
    const __m256i h0 = _mm256_loadu_si256((const __m256i *)(p->head[0] + 32 * h));
    const __m256i h1 = _mm256_loadu_si256((const __m256i *)(p->head[1] + 32 * h));
    const __m256i h2 = _mm256_loadu_si256((const __m256i *)(p->head[2] + 32 * h));
    const __m256i h3 = _mm256_loadu_si256((const __m256i *)(p->head[3] + 32 * h));
    const __m256i six = _mm256_set1_epi32(63), four = _mm256_set1_epi32(0x0F),
                  top = _mm256_set1_epi32(0x30);
    __m256i scale[8], min[8];
    for (int s = 0; s < 4; s++) {
        const int sh = 8 * s;
        scale[s] = _mm256_and_si256(_mm256_srli_epi32(h1, sh), six);
        min[s] = _mm256_and_si256(_mm256_srli_epi32(h2, sh), six);
        scale[s + 4] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(h3, sh), four),
                                       _mm256_and_si256(_mm256_srli_epi32(h1, sh + 2), top));
        min[s + 4] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(h3, sh + 4), four),
                                     _mm256_and_si256(_mm256_srli_epi32(h2, sh + 2), top));
    }
    for (int s = 0; s < 8; s++)
        k->scale2[s] = _mm256_or_si256(scale[s], _mm256_slli_epi32(scale[s], 16));
    for (int p2 = 0; p2 < 4; p2++)
        k->min2[p2] = _mm256_or_si256(min[2 * p2], _mm256_slli_epi32(min[2 * p2 + 1], 16));
    k->d_w = avx2_k4_halves(h0, 0);
    k->dmin_w = avx2_k4_halves(h0, 1);
}

/* Each token's bsum pairs (tf_q8_k_bsum_pair) at pairs[(t·n_sb + b)·4 + p], made once per call
 * rather than per tile and half. */
static void avx2_k4_bsum_pairs(const tf_qgemm_args *a, uint32_t t0, uint32_t n_t, int32_t *pairs) {
    const uint32_t n_sb = a->n_elems / TF_QK_K;
    for (uint32_t t = 0; t < n_t; t++) {
        const tf_q8_k_act *x = (const tf_q8_k_act *)(a->x_quant + (size_t)(t0 + t) * a->x_stride);
        for (uint32_t b = 0; b < n_sb; b++)
            for (int p = 0; p < 4; p++)
                pairs[((size_t)t * n_sb + b) * 4 + p] = tf_q8_k_bsum_pair(&x[b], p);
    }
}

/* n_x tokens (1 to 4, a constant once inlined) against half h of a packed tile, sub-blocks in
 * spans of `span` (2 or 8): rows 8h..8h+7 of token t into y[t][0..7]. ahead (NULL: none): bytes
 * of a later tile to ask for along the way. */
static inline __attribute__((always_inline)) void
avx2_k4_half(const tf_packed_q4_k *p, uint32_t n_sb, int h, const tf_q8_k_act *const x[4],
             const int32_t *const bsum_pairs[4], int n_x, int span, float *const y[4],
             const char *ahead) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    __m256 acc[4], acc_min[4];
    for (int t = 0; t < n_x; t++) acc[t] = acc_min[t] = _mm256_setzero_ps();
    for (uint32_t b = 0; b < n_sb; b++) {
        avx2_prefetch_share(ahead, sizeof *p, b);
        avx2_k4_head head;
        avx2_k4_head_of(&p[b], h, &head);
        for (int s0 = 0; s0 < 8; s0 += span) {
            __m256i isum[4], smin[4];
            for (int t = 0; t < n_x; t++) isum[t] = smin[t] = _mm256_setzero_si256();
            for (int g = s0 / 2; g < (s0 + span) / 2; g++) {
                __m256i pairs[2][4]; /* sub-blocks 2g, 2g + 1: each row's pair sums, 16-bit */
                for (int t = 0; t < n_x; t++) pairs[0][t] = pairs[1][t] = _mm256_setzero_si256();
                    /* rolled: unrolled, the compiler ran every maddubs first and kept them on the
                     * stack for a tree of adds */
#pragma GCC unroll 1
                for (int j = 0; j < 8; j++) {
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(p[b].qs[g][j] + 32 * h));
                    const __m256i lo = _mm256_and_si256(v, low4);
                    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
                    for (int t = 0; t < n_x; t++) {
                        const int8_t *q = x[t][b].qs + 64 * g + 4 * j;
                        pairs[0][t] = _mm256_add_epi16(
                            pairs[0][t],
                            _mm256_maddubs_epi16(lo, _mm256_set1_epi32(avx2_load4(q))));
                        pairs[1][t] = _mm256_add_epi16(
                            pairs[1][t],
                            _mm256_maddubs_epi16(hi, _mm256_set1_epi32(avx2_load4(q + 32))));
                    }
                }
                for (int t = 0; t < n_x; t++) {
                    isum[t] = _mm256_add_epi32(
                        isum[t],
                        _mm256_add_epi32(_mm256_madd_epi16(pairs[0][t], head.scale2[2 * g]),
                                         _mm256_madd_epi16(pairs[1][t], head.scale2[2 * g + 1])));
                    smin[t] = _mm256_add_epi32(
                        smin[t], _mm256_madd_epi16(head.min2[g],
                                                   _mm256_set1_epi32(bsum_pairs[t][b * 4 + g])));
                }
            }
            for (int t = 0; t < n_x; t++) {
                const __m256 dx = _mm256_set1_ps(x[t][b].d);
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(head.d_w, dx),
                                         acc[t]);
                acc_min[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(smin[t]),
                                             _mm256_mul_ps(head.dmin_w, dx), acc_min[t]);
            }
        }
    }
    for (int t = 0; t < n_x; t++) _mm256_storeu_ps(y[t], _mm256_sub_ps(acc[t], acc_min[t]));
}

/* Tokens [t, t + n_x) of the call against packed tile i, both halves. */
static inline __attribute__((always_inline)) void avx2_k4_tile_tokens(const tf_qgemm_args *a,
                                                                      uint32_t i, uint32_t t,
                                                                      const int32_t *pairs, int n_x,
                                                                      int span, const char *ahead) {
    const uint32_t n_sb = a->n_elems / TF_QK_K;
    const tf_packed_q4_k *p =
        (const tf_packed_q4_k *)(a->packed + (size_t)i * TF_QGEMM_ROWS * a->row_bytes);
    const tf_q8_k_act *x[4];
    const int32_t *token_pairs[4];
    float *y[4], *y_hi[4];
    for (int k = 0; k < n_x; k++) {
        x[k] = (const tf_q8_k_act *)(a->x_quant + (size_t)(t + k) * a->x_stride);
        token_pairs[k] = pairs + (size_t)k * n_sb * 4;
        y[k] = a->y + (size_t)(t + k) * a->y_stride + (size_t)i * TF_QGEMM_ROWS;
        y_hi[k] = y[k] + 8;
    }
    avx2_k4_half(p, n_sb, 0, x, token_pairs, n_x, span, y, ahead);
    avx2_k4_half(p, n_sb, 1, x, token_pairs, n_x, span, y_hi, NULL);
}

/* Every whole packed tile with the tokens four at a time, then the rest one by one, in groups of
 * TF_QGEMM_TOKENS (their bsum pairs in the scratch); the first pass over a tile asks for the one
 * AVX2_PREFETCH_TILES ahead. */
static inline __attribute__((always_inline)) void avx2_k4_gemm(const tf_qgemm_args *a, int span,
                                                               tf_qdot_fn one, tf_qdot4_fn four) {
    const uint32_t n_tiles = a->packed ? a->n_rows / TF_QGEMM_ROWS : 0;
    const uint32_t n_sb = a->n_elems / TF_QK_K;
    const size_t tile_bytes = TF_QGEMM_ROWS * a->row_bytes;
    int32_t *pairs = a->scratch;
    static_assert(TF_QGEMM_TOKENS * 4 * sizeof(int32_t) <= 8 * TF_QGEMM_BLOCK_SCRATCH,
                  "the bsum pairs fit the scratch");
    for (uint32_t t0 = 0; t0 < a->n_tokens && n_tiles > 0; t0 += TF_QGEMM_TOKENS) {
        const uint32_t n_t =
            a->n_tokens - t0 < TF_QGEMM_TOKENS ? a->n_tokens - t0 : TF_QGEMM_TOKENS;
        avx2_k4_bsum_pairs(a, t0, n_t, pairs);
        for (uint32_t i = 0; i < n_tiles; i++) {
            const char *ahead =
                t0 == 0 && i + AVX2_PREFETCH_TILES < n_tiles
                    ? (const char *)a->packed + (i + AVX2_PREFETCH_TILES) * tile_bytes
                    : NULL;
            uint32_t t = 0;
            for (; t + 4 <= n_t; t += 4, ahead = NULL)
                avx2_k4_tile_tokens(a, i, t0 + t, pairs + (size_t)t * n_sb * 4, 4, span, ahead);
            for (; t < n_t; t++, ahead = NULL)
                avx2_k4_tile_tokens(a, i, t0 + t, pairs + (size_t)t * n_sb * 4, 1, span, ahead);
        }
    }
    k_gemm_rows_with(a, n_tiles * TF_QGEMM_ROWS, one, four);
}

static void avx2_gemm_q4_k_rows4(const tf_qgemm_args *a) {
    avx2_k4_gemm(a, 2, k_dot_q4_k_rows4, k_dot4_q4_k_rows4);
}

static void avx2_gemm_q4_k_rows(const tf_qgemm_args *a) {
    avx2_k4_gemm(a, 8, k_dot_q4_k_rows, k_dot4_q4_k_rows);
}
