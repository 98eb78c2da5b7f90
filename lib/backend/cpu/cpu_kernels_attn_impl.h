/* The attention kernels of the CPU table (cpu_kernels.h, "attention"), included by
 * cpu_kernels_impl.h once per build flavour (TF_KERNELS_AVX2 0 or 1; AVX-512 bodies where the
 * includer is compiled with it). They read the F16 cache's rows directly, through one pointer per
 * position, and block the loops so that each row is widened once per several query rows and the
 * V partial sums stay in registers.
 *
 * Every (query row, key) score and every (query row, lane, dimension) V sum is the same chain of
 * float operations as dot_tiled / dot_vecdot / axpy would give it (tests/unit/test_cpu_kernels.c
 * holds them equal): only which pairs share a pass changes. The V sums use the lane structure —
 * lane l of a row holds the chain over the positions pos ≡ l (mod n_lanes), in increasing order,
 * and different lanes never meet before the final reduction — so a pass walks one lane's
 * positions with its accumulators in registers instead of all lanes' in memory. */

/* ---- portable bodies (the reference the SIMD ones are held to) ---- */

TF_MAYBE_UNUSED static void attn_scores_tiled_ref(const uint16_t *const *k_rows, size_t n_keys,
                                                  const float *q, size_t n_rows, size_t n,
                                                  float scale, float *scores, size_t score_stride) {
    for (size_t r = 0; r < n_rows; r++)
        for (size_t i = 0; i < n_keys; i++) {
            const uint16_t *k = k_rows[i];
            const float *qr = q + r * n;
            float acc[8] = {0};
            for (size_t e = 0; e + 8 <= n; e += 8)
                for (int l = 0; l < 8; l++)
                    acc[l] = fmaf(tf_f16_to_f32(k[e + l]), qr[e + l], acc[l]);
            scores[r * score_stride + i] = tf_hsum8(acc) * scale;
        }
}

/* ggml_vec_dot_f16's tail, added in double after the 4 × 8-lane body. */
static float attn_vecdot_tail(const uint16_t *k, const float *q, size_t n, float body) {
    double total = body;
    for (size_t e = n & ~(size_t)31; e < n; e++) total += (double)(tf_f16_to_f32(k[e]) * q[e]);
    return (float)total;
}

TF_MAYBE_UNUSED static void attn_scores_vecdot_ref(const uint16_t *const *k_rows, size_t n_keys,
                                                   const float *q, size_t n_rows, size_t n,
                                                   float scale, float *scores,
                                                   size_t score_stride) {
    const size_t whole = n & ~(size_t)31;
    for (size_t r = 0; r < n_rows; r++)
        for (size_t i = 0; i < n_keys; i++) {
            const uint16_t *k = k_rows[i];
            const float *qr = q + r * n;
            float sum[4][8] = {{0}};
            for (size_t e = 0; e < whole; e += 32)
                for (int j = 0; j < 4; j++)
                    for (int l = 0; l < 8; l++)
                        sum[j][l] =
                            fmaf(tf_f16_to_f32(k[e + 8 * j + l]), qr[e + 8 * j + l], sum[j][l]);
            scores[r * score_stride + i] = attn_vecdot_tail(k, qr, n, tf_reduce4x8(sum)) * scale;
        }
}

TF_MAYBE_UNUSED static void attn_values_ref(const uint16_t *const *v_rows, size_t n_pos,
                                            size_t pos0, const float *p, size_t p_stride,
                                            size_t n_rows, size_t n_lanes, size_t width,
                                            float *lanes) {
    memset(lanes, 0, n_rows * n_lanes * width * sizeof *lanes);
    for (size_t i = 0; i < n_pos; i++) {
        const size_t lane = (pos0 + i) % n_lanes;
        for (size_t r = 0; r < n_rows; r++) {
            float *acc = lanes + (r * n_lanes + lane) * width;
            const float pr = p[r * p_stride + i];
            for (size_t d = 0; d < width; d++)
                acc[d] = fmaf(tf_f16_to_f32(v_rows[i][d]), pr, acc[d]);
        }
    }
}

/* ---- the Q8_0 cache: rows of tf_block_q8_0, a block's scale d (float16) then 32 int8 codes ----
 */

/* A block's scale as stored: its float16 bits. */
static inline uint16_t q8_block_half(const uint8_t *block) {
    uint16_t half;
    memcpy(&half, block, sizeof half);
    return half;
}

static inline float q8_block_scale(const uint8_t *block) {
    return tf_f16_to_f32(q8_block_half(block));
}

/* The work area of attn_q8_values: wq[(r·nb + b)·MAX + i], the 16-bit weight of block b of
 * position i in row r (a zero after an odd n_pos: the last pair's missing half), then dv[b·MAX +
 * i], the blocks' scales, then scales[r·nb + b], the float step of each row's block. */
typedef struct q8_work {
    int16_t *wq;
    float *dv, *scales;
} q8_work;

static q8_work q8_work_of(void *work, size_t nb) {
    q8_work w = {.wq = work};
    w.dv = (float *)(w.wq + TF_ATTN_Q8_ROWS * nb * TF_ATTN_Q8_MAX_POS);
    w.scales = w.dv + nb * TF_ATTN_Q8_MAX_POS;
    return w;
}

/* One weight as cpu_kernels.h states it: t = w·inv, NaN as 0, clamped, nearest even. */
static inline int16_t q8_weight(float w, float inv) {
    float t = w * inv;
    t = t == t ? t : 0.0f;
    t = t < -32767.0f ? -32767.0f : t > 32767.0f ? 32767.0f : t;
    return (int16_t)nearbyintf(t);
}

/* Block b of row r: its weights p_i·d_i in 16 bits, row[i], against their largest magnitude
 * (NaN never wins); returns the step (0 when that is 0 or not finite). */
static float q8_quantize_block(const float *pr, const float *d, size_t n_pos, int16_t *row) {
    float most = 0.0f;
    for (size_t i = 0; i < n_pos; i++) {
        const float w = fabsf(pr[i] * d[i]);
        if (w > most) most = w;
    }
    const bool usable = most > 0.0f && most <= FLT_MAX;
    const float inv = usable ? 32767.0f / most : 0.0f;
    for (size_t i = 0; i < n_pos; i++) row[i] = q8_weight(pr[i] * d[i], inv);
    if (n_pos % 2) row[n_pos] = 0;
    return usable ? most / 32767.0f : 0.0f;
}

TF_MAYBE_UNUSED static void attn_q8_values_ref(const uint8_t *const *v_rows, size_t n_pos,
                                               const float *p, size_t p_stride, size_t n_rows,
                                               size_t n, float *out, size_t out_stride,
                                               void *work) {
    const size_t nb = n / TF_QK8_0;
    const q8_work w = q8_work_of(work, nb);
    for (size_t i = 0; i < n_pos; i++)
        for (size_t b = 0; b < nb; b++)
            w.dv[b * TF_ATTN_Q8_MAX_POS + i] =
                q8_block_scale(v_rows[i] + b * sizeof(tf_block_q8_0));
    for (size_t r = 0; r < n_rows; r++)
        for (size_t b = 0; b < nb; b++) {
            int16_t *row = w.wq;
            const float step =
                q8_quantize_block(p + r * p_stride, w.dv + b * TF_ATTN_Q8_MAX_POS, n_pos, row);
            for (size_t e = b * TF_QK8_0; e < (b + 1) * TF_QK8_0; e++) {
                int32_t sum = 0;
                for (size_t i = 0; i < n_pos; i++)
                    sum += (int32_t)row[i] *
                           (int8_t)v_rows[i][b * sizeof(tf_block_q8_0) + 2 + e % TF_QK8_0];
                out[r * out_stride + e] = (float)sum * step;
            }
        }
}

/* The scores' query: each row's block b (32 elements) as 16-bit integers, quantized as
 * attn_q8_values quantizes its weights (q8_quantize_block with every d 1), codes[r][b][32], and
 * their steps. */
static const float q8_ones[TF_QK8_0] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

/* Σ k_e·c_e over the elements e of a block with (e mod 16) < 8 (lo) or ≥ 8: exact in int32. */
static inline int32_t q8_scores_part(const int8_t *k, const int16_t *c, bool lo) {
    int32_t sum = 0;
    for (int e = 0; e < TF_QK8_0; e++)
        if ((e % 16 < 8) == lo) sum += k[e] * c[e];
    return sum;
}

TF_MAYBE_UNUSED static void attn_q8_scores_ref(const uint8_t *const *k_rows,
                                               const uint8_t *const *v_rows, size_t n_keys,
                                               const float *q, size_t n_rows, size_t n, float scale,
                                               float *scores, size_t stride, void *work) {
    (void)v_rows; /* a prefetch hint only */
    const size_t nb = n / TF_QK8_0;
    int16_t *codes = work;
    float *steps = (float *)(codes + nb * TF_QK8_0);
    for (size_t r = 0; r < n_rows; r++) {
        for (size_t b = 0; b < nb; b++)
            steps[b] = q8_quantize_block(q + r * n + b * TF_QK8_0, q8_ones, TF_QK8_0,
                                         codes + b * TF_QK8_0);
        for (size_t i = 0; i < n_keys; i++) {
            float lo = 0.0f, hi = 0.0f;
            for (size_t b = 0; b < nb; b++) {
                const uint8_t *blk = k_rows[i] + b * sizeof(tf_block_q8_0);
                const int8_t *k = (const int8_t *)blk + 2;
                const float d = q8_block_scale(blk) * steps[b];
                lo = fmaf(d, (float)q8_scores_part(k, codes + b * TF_QK8_0, true), lo);
                hi = fmaf(d, (float)q8_scores_part(k, codes + b * TF_QK8_0, false), hi);
            }
            scores[r * stride + i] = (lo + hi) * scale;
        }
    }
}

TF_MAYBE_UNUSED static void attn_round_f16_ref(const float *x, float scale, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = tf_f16_to_f32(tf_f32_to_f16(x[i] * scale));
}

#if TF_KERNELS_AVX2
#define ATTN_INLINE static inline __attribute__((always_inline))

/* STEP(4), STEP(3), STEP(2) or STEP(1) for count rows (four and more: 4): each row count gets its
 * own copy of a blocked loop, its register blocks sized at compile time. */
#define ATTN_BY_ROWS(count, STEP)             \
    do {                                      \
        switch ((count) >= 4 ? 4 : (count)) { \
        case 4:                               \
            STEP(4);                          \
            break;                            \
        case 3:                               \
            STEP(3);                          \
            break;                            \
        case 2:                               \
            STEP(2);                          \
            break;                            \
        default:                              \
            STEP(1);                          \
            break;                            \
        }                                     \
    } while (0)

/* F16C rounds to nearest even, as tf_f32_to_f16 (and ggml's own conversion on x86) does. */
static void attn_round_f16(const float *x, float scale, float *y, size_t n) {
    const __m256 s = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h =
            _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) y[i] = tf_f16_to_f32(tf_f32_to_f16(x[i] * scale));
}

/* Keys fetched this many ahead of the pair being scored, into L2: the rows are reached through
 * pointers (a sequence's blocks need not be adjacent), and without the hint the walk waited on
 * memory for most of its time over a long span. One thread, 128K keys of 256 dimensions, four
 * query rows: no hint 79 ns a key; 16 ahead into L1 47 ns; into L2 (T1) 29-32 ns for 16 to 64
 * ahead, against 24-26 ns in cache. An L1 hint holds a fill buffer for each line until it
 * arrives, and there are far fewer of those than the L2 can keep in flight. */
enum { ATTN_KEY_PREFETCH = 32 };

static inline void attn_prefetch_keys(const uint16_t *const *k_rows, size_t i, size_t n_keys,
                                      size_t n) {
    for (size_t a = i + ATTN_KEY_PREFETCH; a < i + ATTN_KEY_PREFETCH + 2 && a < n_keys; a++)
        for (size_t at = 0; at < n * sizeof(uint16_t); at += 64)
            _mm_prefetch((const char *)k_rows[a] + at, _MM_HINT_T1);
}

/* ---- scores, tinyBLAS order: nk keys × nr query rows per pass, one 8-lane accumulator each.
 * Rows outermost: a block's queries stay in L1 while the keys stream past. ---- */
ATTN_INLINE void tiled_block(const uint16_t *const *k, int nk, const float *q, int nr, size_t n,
                             float scale, float *scores, size_t stride) {
    __m256 acc[2][4];
    for (int a = 0; a < nk; a++)
        for (int r = 0; r < nr; r++) acc[a][r] = _mm256_setzero_ps();
    for (size_t e = 0; e < n; e += 8) {
        __m256 kv[2];
        for (int a = 0; a < nk; a++)
            kv[a] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[a] + e)));
        for (int r = 0; r < nr; r++) {
            __m256 qv = _mm256_loadu_ps(q + (size_t)r * n + e);
            __asm__("" : "+v"(qv)); /* one load for both keys (see vecdot_acc_z): 34 → 23 ns */
            for (int a = 0; a < nk; a++) acc[a][r] = _mm256_fmadd_ps(kv[a], qv, acc[a][r]);
        }
    }
    for (int a = 0; a < nk; a++)
        for (int r = 0; r < nr; r++) scores[(size_t)r * stride + a] = avx_hsum8(acc[a][r]) * scale;
}

#define ATTN_TILED_ROWS(NR)                                                                \
    do {                                                                                   \
        size_t i = 0;                                                                      \
        for (; i + 2 <= n_keys; i += 2) {                                                  \
            attn_prefetch_keys(k_rows, i, n_keys, n);                                      \
            tiled_block(k_rows + i, 2, q + r0 * n, NR, n, scale, scores + r0 * stride + i, \
                        stride);                                                           \
        }                                                                                  \
        if (i < n_keys)                                                                    \
            tiled_block(k_rows + i, 1, q + r0 * n, NR, n, scale, scores + r0 * stride + i, \
                        stride);                                                           \
    } while (0)

static void attn_scores_tiled(const uint16_t *const *k_rows, size_t n_keys, const float *q,
                              size_t n_rows, size_t n, float scale, float *scores, size_t stride) {
    for (size_t r0 = 0; r0 < n_rows; r0 += 4) {
        ATTN_BY_ROWS(n_rows - r0, ATTN_TILED_ROWS);
    }
}

/* ---- scores, ggml_vec_dot_f16's order: the four 8-lane accumulators of each (key, row) are
 * independent chains over the 32-element steps, so a pass may carry two of them (j0, j0 + 1) for
 * four rows: each key element is still widened once per four rows. ---- */
ATTN_INLINE void vecdot_half(const uint16_t *k, const float *q, int nr, size_t n, size_t whole,
                             int j0, __m256 out[4][4]) {
    __m256 acc[4][2];
    for (int r = 0; r < nr; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (size_t e = 0; e < whole; e += 32)
        for (int j = 0; j < 2; j++) {
            const size_t at = e + 8 * (size_t)(j0 + j);
            const __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + at)));
            for (int r = 0; r < nr; r++)
                acc[r][j] = _mm256_fmadd_ps(kv, _mm256_loadu_ps(q + (size_t)r * n + at), acc[r][j]);
        }
    for (int r = 0; r < nr; r++) {
        out[r][j0] = acc[r][0];
        out[r][j0 + 1] = acc[r][1];
    }
}

/* vecdot_body's reduction: s0+s2, s1+s3, their sum, halves, hadd twice. */
static inline float vecdot_reduce(const __m256 s[4]) {
    const __m256 x = _mm256_add_ps(_mm256_add_ps(s[0], s[2]), _mm256_add_ps(s[1], s[3]));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

ATTN_INLINE void vecdot_block(const uint16_t *k, const float *q, int nr, size_t n, float scale,
                              float *scores, size_t stride) {
    const size_t whole = n & ~(size_t)31;
    __m256 s[4][4];
    vecdot_half(k, q, nr, n, whole, 0, s);
    vecdot_half(k, q, nr, n, whole, 2, s);
    for (int r = 0; r < nr; r++)
        scores[(size_t)r * stride] =
            attn_vecdot_tail(k, q + (size_t)r * n, n, vecdot_reduce(s[r])) * scale;
}

#if defined(__AVX512F__)
/* Lanes 8-15 of a zmm (AVX-512 F only: no DQ in this build). */
static inline __m256 z_high8(__m512 x) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
}

/* Two keys per pass, four rows: sum pairs (j, j + 1) share a zmm (lanes 0-7: j, 8-15: j + 1), so
 * the 4 × 8 lanes of a (key, row) are two registers and sixteen hold the whole block. The chains
 * over elements [0, whole), into acc[key][row][0: sums 0, 1; 1: sums 2, 3]. */
ATTN_INLINE void vecdot_acc_z(const uint16_t *const *k, int nk, const float *q, int nr, size_t n,
                              size_t whole, __m512 acc[2][4][2]) {
    for (int a = 0; a < nk; a++)
        for (int r = 0; r < nr; r++) acc[a][r][0] = acc[a][r][1] = _mm512_setzero_ps();
    for (size_t e = 0; e < whole; e += 32) {
        __m512 kv[2][2];
        for (int a = 0; a < nk; a++)
            for (int h = 0; h < 2; h++)
                kv[a][h] =
                    _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(k[a] + e + 16 * h)));
        for (int r = 0; r < nr; r++)
            for (int h = 0; h < 2; h++) {
                __m512 qv = _mm512_loadu_ps(q + (size_t)r * n + e + 16 * h);
                /* in a register for both keys: GCC otherwise folds the load into each FMA, and
                 * the loads, not the FMAs, then set the pace (one thread, 256 dimensions, four
                 * rows: 35 → 24 ns a key in cache) */
                __asm__("" : "+v"(qv));
                for (int a = 0; a < nk; a++)
                    acc[a][r][h] = _mm512_fmadd_ps(kv[a][h], qv, acc[a][r][h]);
            }
    }
}

/* nk (1 or 2) keys × nr rows: vecdot_acc_z's chains, each (key, row) reduced by vecdot_reduce and
 * ggml's double tail. */
ATTN_INLINE void vecdot_block_z(const uint16_t *const *k, int nk, const float *q, int nr, size_t n,
                                float scale, float *scores, size_t stride) {
    __m512 acc[2][4][2];
    vecdot_acc_z(k, nk, q, nr, n, n & ~(size_t)31, acc);
    for (int a = 0; a < nk; a++)
        for (int r = 0; r < nr; r++) {
            const __m256 s[4] = {_mm512_castps512_ps256(acc[a][r][0]), z_high8(acc[a][r][0]),
                                 _mm512_castps512_ps256(acc[a][r][1]), z_high8(acc[a][r][1])};
            scores[(size_t)r * stride + a] =
                attn_vecdot_tail(k[a], q + (size_t)r * n, n, vecdot_reduce(s)) * scale;
        }
}

/* Sixteen keys [i0, i0 + 16) of n_keys against nr rows, n a multiple of 32 (no double tail):
 * each (key, row) accumulated by vecdot_acc_z, two keys a pass, and vecdot_reduce's first
 * step kept per pair, x = (s0 + s2) + (s1 + s3) in eight lanes; its last steps —
 * (x0 + x4) + (x1 + x5), (x2 + x6) + (x3 + x7), their sum — then run for the sixteen keys at
 * once, one key per lane, after an 8 × 8 transpose in each half (z_transpose8x2, defined by
 * cpu_kernels_avx512.c before it includes this file), instead of key by key through two HADDs.
 * The same adds of the same operands: the same bits. */
ATTN_INLINE void vecdot16_z(const uint16_t *const *k_rows, size_t i0, size_t n_keys, const float *q,
                            int nr, size_t n, float scale, float *scores, size_t stride) {
    __m512 xs[4][8]; /* [row][j]: lanes 0-7 key j's x, lanes 8-15 key j + 8's */
    for (int i = 0; i < 16; i += 2) {
        const uint16_t *const *k = k_rows + i0 + (size_t)i;
        attn_prefetch_keys(k_rows, i0 + (size_t)i, n_keys, n);
        __m512 acc[2][4][2];
        vecdot_acc_z(k, 2, q, nr, n, n, acc);
        for (int a = 0; a < 2; a++)
            for (int r = 0; r < nr; r++) {
                const __m512 both = _mm512_add_ps(acc[a][r][0], acc[a][r][1]);
                const __m256 x = _mm256_add_ps(_mm512_castps512_ps256(both), z_high8(both));
                const int j = (i + a) % 8;
                xs[r][j] = i + a < 8 ? _mm512_castps256_ps512(x)
                                     : _mm512_castpd_ps(_mm512_insertf64x4(
                                           _mm512_castps_pd(xs[r][j]), _mm256_castps_pd(x), 1));
            }
    }
    for (int r = 0; r < nr; r++) {
        __m512i v[8];
        for (int j = 0; j < 8; j++) v[j] = _mm512_castps_si512(xs[r][j]);
        z_transpose8x2(v); /* v[j] lane c: key c's x_j */
        __m512 x[8];
        for (int j = 0; j < 8; j++) x[j] = _mm512_castsi512_ps(v[j]);
        const __m512 lo = _mm512_add_ps(_mm512_add_ps(x[0], x[4]), _mm512_add_ps(x[1], x[5]));
        const __m512 hi = _mm512_add_ps(_mm512_add_ps(x[2], x[6]), _mm512_add_ps(x[3], x[7]));
        _mm512_storeu_ps(scores + (size_t)r * stride,
                         _mm512_mul_ps(_mm512_add_ps(lo, hi), _mm512_set1_ps(scale)));
    }
}

#define ATTN_VECDOT_ROWS(NR)                                                                      \
    do {                                                                                          \
        size_t i = 0;                                                                             \
        if (n % 32 == 0)                                                                          \
            for (; i + 16 <= n_keys; i += 16)                                                     \
                vecdot16_z(k_rows, i, n_keys, q + r0 * n, NR, n, scale, scores + r0 * stride + i, \
                           stride);                                                               \
        for (; i + 2 <= n_keys; i += 2) {                                                         \
            attn_prefetch_keys(k_rows, i, n_keys, n);                                             \
            vecdot_block_z(k_rows + i, 2, q + r0 * n, NR, n, scale, scores + r0 * stride + i,     \
                           stride);                                                               \
        }                                                                                         \
        if (i < n_keys)                                                                           \
            vecdot_block_z(k_rows + i, 1, q + r0 * n, NR, n, scale, scores + r0 * stride + i,     \
                           stride);                                                               \
    } while (0)
#else
/* Two keys × nr rows, one of the four 8-lane chains (j) at a time, so that each query vector is
 * loaded once for both keys: vecdot_block's FMAs take theirs from memory, and AVX2 loads (two
 * a cycle) then set the pace rather than the FMAs. The chains and their reduction are
 * vecdot_block's. One thread, four rows of 256, in cache (Zen 3): 46 → 36 ns a key. */
ATTN_INLINE void vecdot_pair(const uint16_t *const *k, const float *q, int nr, size_t n,
                             float scale, float *scores, size_t stride) {
    const size_t whole = n & ~(size_t)31;
    __m256 sums[2][4][4]; /* [key][row][chain] */
    for (int j = 0; j < 4; j++) {
        __m256 acc[2][4];
        for (int r = 0; r < nr; r++) acc[0][r] = acc[1][r] = _mm256_setzero_ps();
        for (size_t e = 8 * (size_t)j; e < whole; e += 32) {
            const __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[0] + e)));
            const __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[1] + e)));
            for (int r = 0; r < nr; r++) {
                __m256 qv = _mm256_loadu_ps(q + (size_t)r * n + e);
                __asm__("" : "+v"(qv)); /* one load for both keys (see vecdot_acc_z) */
                acc[0][r] = _mm256_fmadd_ps(k0, qv, acc[0][r]);
                acc[1][r] = _mm256_fmadd_ps(k1, qv, acc[1][r]);
            }
        }
        for (int a = 0; a < 2; a++)
            for (int r = 0; r < nr; r++) sums[a][r][j] = acc[a][r];
    }
    for (int a = 0; a < 2; a++)
        for (int r = 0; r < nr; r++)
            scores[(size_t)r * stride + a] =
                attn_vecdot_tail(k[a], q + (size_t)r * n, n, vecdot_reduce(sums[a][r])) * scale;
}

#define ATTN_VECDOT_ROWS(NR)                                                                     \
    do {                                                                                         \
        size_t i = 0;                                                                            \
        for (; i + 2 <= n_keys; i += 2) {                                                        \
            attn_prefetch_keys(k_rows, i, n_keys, n);                                            \
            vecdot_pair(k_rows + i, q + r0 * n, NR, n, scale, scores + r0 * stride + i, stride); \
        }                                                                                        \
        if (i < n_keys)                                                                          \
            vecdot_block(k_rows[i], q + r0 * n, NR, n, scale, scores + r0 * stride + i, stride); \
    } while (0)
#endif

static void attn_scores_vecdot(const uint16_t *const *k_rows, size_t n_keys, const float *q,
                               size_t n_rows, size_t n, float scale, float *scores, size_t stride) {
    for (size_t r0 = 0; r0 < n_rows; r0 += 4) {
        ATTN_BY_ROWS(n_rows - r0, ATTN_VECDOT_ROWS);
    }
}

/* ---- V: one lane's positions at a time, nr rows × ns vectors of dimensions in registers ---- */
enum {
    ATTN_PREFETCH = 8, /* steps ahead a lane's walk asks for its rows (first chunk only) */
    ATTN_V_CHUNK = 512 /* positions per pass of every lane (a multiple of TF_LANES_VECDOT) */
};
#if defined(__AVX512F__)
/* 4 zmm (64 dimensions) per row, 16 accumulators for four rows; narrower slices for the rest. */
ATTN_INLINE void values_block_z(const uint16_t *const *v, size_t first, size_t n_pos, size_t step,
                                const float *p, size_t p_stride, int nr, int ns, size_t d,
                                bool resume, float *lanes, size_t lane_stride) {
    __m512 acc[4][4];
    for (int r = 0; r < nr; r++)
        for (int s = 0; s < ns; s++)
            acc[r][s] = resume ? _mm512_loadu_ps(lanes + (size_t)r * lane_stride + 16 * s)
                               : _mm512_setzero_ps();
    for (size_t i = first; i < n_pos; i += step) {
        /* rows n_lanes apart: no hardware stream (later chunks are on their way: attn_values) */
        if (!resume && i + ATTN_PREFETCH * step < n_pos)
            for (int s = 0; s < ns; s += 2)
                _mm_prefetch((const char *)(v[i + ATTN_PREFETCH * step] + d + 16 * s), _MM_HINT_T0);
        __m512 vv[4];
        for (int s = 0; s < ns; s++)
            vv[s] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(v[i] + d + 16 * s)));
        for (int r = 0; r < nr; r++) {
            const __m512 pr = _mm512_set1_ps(p[(size_t)r * p_stride + i]);
            for (int s = 0; s < ns; s++) acc[r][s] = _mm512_fmadd_ps(vv[s], pr, acc[r][s]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int s = 0; s < ns; s++)
            _mm512_storeu_ps(lanes + (size_t)r * lane_stride + 16 * s, acc[r][s]);
}
#endif

/* ns ymm (8 dimensions each) per row. */
ATTN_INLINE void values_block_y(const uint16_t *const *v, size_t first, size_t n_pos, size_t step,
                                const float *p, size_t p_stride, int nr, int ns, size_t d,
                                bool resume, float *lanes, size_t lane_stride) {
    __m256 acc[4][2];
    for (int r = 0; r < nr; r++)
        for (int s = 0; s < ns; s++)
            acc[r][s] = resume ? _mm256_loadu_ps(lanes + (size_t)r * lane_stride + 8 * s)
                               : _mm256_setzero_ps();
    for (size_t i = first; i < n_pos; i += step) {
        if (!resume && i + ATTN_PREFETCH * step < n_pos)
            _mm_prefetch((const char *)(v[i + ATTN_PREFETCH * step] + d), _MM_HINT_T0);
        __m256 vv[2];
        for (int s = 0; s < ns; s++)
            vv[s] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v[i] + d + 8 * s)));
        for (int r = 0; r < nr; r++) {
            const __m256 pr = _mm256_broadcast_ss(p + (size_t)r * p_stride + i);
            for (int s = 0; s < ns; s++) acc[r][s] = _mm256_fmadd_ps(vv[s], pr, acc[r][s]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int s = 0; s < ns; s++)
            _mm256_storeu_ps(lanes + (size_t)r * lane_stride + 8 * s, acc[r][s]);
}

/* One slice of dims dimensions (64 and 16 with AVX-512; 16 and 8) for up to four rows. */
ATTN_INLINE void values_slice(const uint16_t *const *v, size_t first, size_t n_pos, size_t step,
                              const float *p, size_t p_stride, int nr, size_t dims, size_t d,
                              bool resume, float *lanes, size_t lane_stride) {
#if defined(__AVX512F__)
    if (dims == 64)
        values_block_z(v, first, n_pos, step, p, p_stride, nr, 4, d, resume, lanes, lane_stride);
    else if (dims == 16)
        values_block_z(v, first, n_pos, step, p, p_stride, nr, 1, d, resume, lanes, lane_stride);
#else
    if (dims == 16)
        values_block_y(v, first, n_pos, step, p, p_stride, nr, 2, d, resume, lanes, lane_stride);
#endif
    else values_block_y(v, first, n_pos, step, p, p_stride, nr, 1, d, resume, lanes, lane_stride);
}

#if defined(__AVX512F__)
enum { ATTN_V_WIDE = 64 };
#else
enum { ATTN_V_WIDE = 16 };
#endif

/* The next chunk's rows, asked into L2 a few lines at a time as the walks of this one proceed:
 * a lane's walk is rows n_lanes apart, which no hardware prefetcher follows, so the rows of a
 * chunk arrive in address order while the one before is summed. One thread, 128K positions of
 * 256 dimensions, four rows: 41 ns a row with only the walks' own hints, 33 ns so (24 in cache). */
typedef struct values_prefetch {
    size_t row, end, at; /* next row and line offset to ask for; the chunk's end */
    size_t lines;        /* lines asked for per slice of a lane's walk */
} values_prefetch;

/* The next chunk's rows [c1, end), spread evenly over this chunk's n_lanes walks of n_slices. */
static inline values_prefetch values_prefetch_plan(size_t c1, size_t end, size_t row_bytes,
                                                   size_t n_lanes, size_t n_slices) {
    const size_t lines = end > c1 ? (end - c1) * ((row_bytes + 63) / 64) : 0;
    const size_t calls = n_lanes * n_slices; /* 0 for fewer than 8 dimensions: no slices */
    return (values_prefetch){
        .row = c1, .end = end, .lines = calls ? (lines + calls - 1) / calls : 0};
}

static inline void values_prefetch_some(const uint16_t *const *v_rows, size_t row_bytes,
                                        values_prefetch *pf) {
    for (size_t n = 0; n < pf->lines && pf->row < pf->end; n++) {
        _mm_prefetch((const char *)v_rows[pf->row] + pf->at, _MM_HINT_T1);
        pf->at += 64;
        if (pf->at >= row_bytes) {
            pf->at = 0;
            pf->row++;
        }
    }
}

static void attn_values(const uint16_t *const *v_rows, size_t n_pos, size_t pos0, const float *p,
                        size_t p_stride, size_t n_rows, size_t n_lanes, size_t width,
                        float *lanes) {
    const size_t lane_stride = n_lanes * width, whole = width & ~(size_t)7;
    /* Chunks of ATTN_V_CHUNK positions, each lane's sums carried from one to the next in lanes
     * (stored and reloaded: exact): a chunk's rows fit the TLB and L2, which a lane's walk over
     * a long span (one row in n_lanes) would not. Within a chunk, lanes outermost: a lane's rows
     * are read from memory by its first slice, and found in cache by its other slices and row
     * blocks. */
    const size_t chunk = ATTN_V_CHUNK % n_lanes == 0 ? ATTN_V_CHUNK : n_pos + 1;
    const size_t n_slices = (whole + ATTN_V_WIDE - 1) / ATTN_V_WIDE; /* per lane, about */
    for (size_t c0 = 0; c0 == 0 || c0 < n_pos; c0 += chunk) {        /* once at least: zeros */
        const size_t c1 = n_pos - c0 < chunk ? n_pos : c0 + chunk;
        values_prefetch pf = values_prefetch_plan(c1, n_pos - c1 < chunk ? n_pos : c1 + chunk,
                                                  width * sizeof(uint16_t), n_lanes, n_slices);
        for (size_t l = 0; l < n_lanes; l++) {
            /* the first i ≥ c0 with (pos0 + i) % n_lanes == l (c0 is a multiple of n_lanes) */
            const size_t first = c0 + (l + n_lanes - pos0 % n_lanes) % n_lanes;
            for (size_t d = 0, dims; d < whole; d += dims) {
                dims = whole - d >= ATTN_V_WIDE ? ATTN_V_WIDE : whole - d >= 16 ? 16 : 8;
                values_prefetch_some(v_rows, width * sizeof(uint16_t), &pf);
                for (size_t r0 = 0; r0 < n_rows; r0 += 4) {
                    const float *pr = p + r0 * p_stride;
                    float *out = lanes + r0 * lane_stride + l * width + d;
                    const bool resume = c0 > 0;
#define ATTN_SLICE(NR) \
    values_slice(v_rows, first, c1, n_lanes, pr, p_stride, NR, dims, d, resume, out, lane_stride)
                    ATTN_BY_ROWS(n_rows - r0, ATTN_SLICE);
#undef ATTN_SLICE
                }
            }
        }
    }
    /* The last width % 8 dimensions one at a time (same chains). */
    for (size_t r = 0; r < n_rows; r++)
        for (size_t l = 0; l < n_lanes; l++)
            for (size_t d = whole; d < width; d++) {
                float acc = 0.0f;
                for (size_t i = (l + n_lanes - pos0 % n_lanes) % n_lanes; i < n_pos; i += n_lanes)
                    acc = fmaf(tf_f16_to_f32(v_rows[i][d]), p[r * p_stride + i], acc);
                lanes[r * lane_stride + l * width + d] = acc;
            }
}

/* ---- the Q8_0 cache (same chains as the _ref bodies above) ---- */

/* A block's float16 scale through F16C (exact, as q8_block_scale). */
static inline float q8_block_scale_f16c(const uint8_t *block) {
    return _cvtsh_ss(q8_block_half(block));
}

/* The V rows as their keys are scored, into L2: the V sums read them next, and their first
 * touch had waited on memory (one thread beside another on the other core, four rows of 256 from
 * memory: V sums 42-64 -> 30-47 ns a key, the scores 1-2 ns slower). */
static inline void q8_prefetch_row_l2(const uint8_t *row, size_t bytes) {
    for (size_t at = 0; at < bytes; at += 64) _mm_prefetch((const char *)row + at, _MM_HINT_T1);
}

/* Into L1: unlike the F16 keys (attn_prefetch_keys), an L2 hint was no faster here (alternated
 * per-op profiles at position 32,640, two threads: attention 4.87 ms a step with T0, 5.04 with
 * T1). */
static inline void q8_prefetch_row(const uint8_t *row, size_t bytes) {
    for (size_t at = 0; at < bytes; at += 64) _mm_prefetch((const char *)row + at, _MM_HINT_T0);
}

/* The V sums as 16-bit weight × 8-bit code products over pairs of positions: a pair's two rows
 * of a block widened to 16 bits and interleaved (unpack within 128-bit lanes: the low half holds
 * elements 0-3 of each 8, the high half 4-7), each weight pair broadcast as one 32-bit word, and
 * multiply-added into 32-bit sums (exact: |w| ≤ 32767, |v| ≤ 127, at most TF_ATTN_Q8_MAX_POS
 * positions). The sums are put back in element order when stored. */
#if defined(__AVX512F__)
/* One pair of positions (rows a and c widened, c zeros past the end) into nr rows' sums. */
#define Q8_PAIR_STEP(A, C)                                                                    \
    do {                                                                                      \
        const __m512i x_lo = _mm512_unpacklo_epi16(A, C), x_hi = _mm512_unpackhi_epi16(A, C); \
        for (int r = 0; r < nr; r++) {                                                        \
            const __m512i w = _mm512_set1_epi32(w_pairs[(size_t)r * row_stride + j]);         \
            lo[r] = _mm512_dpwssd_epi32(lo[r], x_lo, w);                                      \
            hi[r] = _mm512_dpwssd_epi32(hi[r], x_hi, w);                                      \
        }                                                                                     \
    } while (0)

/* Block b of nr rows (≤ 4) over every pair: sums[r][32] in element order. */
ATTN_INLINE void q8_values_pairs(const uint8_t *const *v, size_t n_pos, const int32_t *w_pairs,
                                 size_t nb, int nr, size_t b, int32_t sums[4][32]) {
    __m512i lo[4], hi[4];
    for (int r = 0; r < nr; r++) lo[r] = hi[r] = _mm512_setzero_si512();
    const size_t at = b * sizeof(tf_block_q8_0) + 2;
    const size_t row_stride = nb * (TF_ATTN_Q8_MAX_POS / 2);
    w_pairs += b * (TF_ATTN_Q8_MAX_POS / 2);
    size_t j = 0;
    for (; 2 * j + 1 < n_pos; j++) {
        const __m512i a =
            _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(v[2 * j] + at)));
        const __m512i c =
            _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(v[2 * j + 1] + at)));
        Q8_PAIR_STEP(a, c);
    }
    if (2 * j < n_pos) { /* the last position alone: its pair's weight is zero */
        const __m512i a =
            _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(v[2 * j] + at)));
        const __m512i c = _mm512_setzero_si512();
        Q8_PAIR_STEP(a, c);
    }
    for (int r = 0; r < nr; r++) {
        int32_t l[16], h[16];
        _mm512_storeu_si512(l, lo[r]);
        _mm512_storeu_si512(h, hi[r]);
        for (int k = 0; k < 4; k++) /* 128-bit lane k: elements 8k..8k+3 low, 8k+4..8k+7 high */
            for (int e = 0; e < 4; e++) {
                sums[r][8 * k + e] = l[4 * k + e];
                sums[r][8 * k + 4 + e] = h[4 * k + e];
            }
    }
}
#undef Q8_PAIR_STEP
#else
/* One pair of positions (their 16 codes widened: a, and c, zeros past the end) into the sums of
 * nr ≤ 4 rows, w[r] row r's weight pairs. */
ATTN_INLINE void q8_pair_step(__m256i a, __m256i c, const int32_t *const *w, size_t j, int nr,
                              __m256i lo[4], __m256i hi[4]) {
    const __m256i x_lo = _mm256_unpacklo_epi16(a, c), x_hi = _mm256_unpackhi_epi16(a, c);
    for (int r = 0; r < nr; r++) {
        const __m256i wr = _mm256_set1_epi32(w[r][j]);
        lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(x_lo, wr));
        hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(x_hi, wr));
    }
}

static inline __m256i q8_widen16(const uint8_t *codes) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)codes));
}

/* Every row in one pass, the last odd position on its own before the loop over whole pairs. */
ATTN_INLINE void q8_values_pairs(const uint8_t *const *v, size_t n_pos, const int32_t *w_pairs,
                                 size_t nb, int nr, size_t b, int32_t sums[4][32]) {
    const size_t pairs = n_pos / 2;
    const int32_t *w[4];
    for (int r = 0; r < nr; r++) w[r] = w_pairs + ((size_t)r * nb + b) * (TF_ATTN_Q8_MAX_POS / 2);
    for (int half = 0; half < 2; half++) { /* elements 16·half .. 16·half + 15 */
        const size_t at = b * sizeof(tf_block_q8_0) + 2 + 16 * (size_t)half;
        __m256i lo[4], hi[4];
        for (int r = 0; r < nr; r++) lo[r] = hi[r] = _mm256_setzero_si256();
        if (n_pos % 2) /* first: the sums are exact, in any order */
            q8_pair_step(q8_widen16(v[n_pos - 1] + at), _mm256_setzero_si256(), w, pairs, nr, lo,
                         hi);
        for (size_t j = 0; j < pairs; j++)
            q8_pair_step(q8_widen16(v[2 * j] + at), q8_widen16(v[2 * j + 1] + at), w, j, nr, lo,
                         hi);
        /* lanes of lo: elements 0-3 and 8-11 of the half; of hi: 4-7 and 12-15 */
        for (int r = 0; r < nr; r++) {
            _mm256_storeu_si256((__m256i *)&sums[r][16 * half],
                                _mm256_permute2x128_si256(lo[r], hi[r], 0x20));
            _mm256_storeu_si256((__m256i *)&sums[r][16 * half + 8],
                                _mm256_permute2x128_si256(lo[r], hi[r], 0x31));
        }
    }
}
#endif

/* q8_quantize_block eight positions per step (the same operations on each). */
static float q8_quantize_block_x8(const float *pr, const float *d, size_t n_pos, int16_t *row) {
    const size_t whole = n_pos & ~(size_t)7;
    const __m256 sign = _mm256_set1_ps(-0.0f), lo = _mm256_set1_ps(-32767.0f),
                 hi = _mm256_set1_ps(32767.0f);
    __m256 most8 = _mm256_setzero_ps();
    for (size_t i = 0; i < whole; i += 8) { /* max(x, most8): a NaN x leaves most8 */
        const __m256 w = _mm256_mul_ps(_mm256_loadu_ps(pr + i), _mm256_loadu_ps(d + i));
        most8 = _mm256_max_ps(_mm256_andnot_ps(sign, w), most8);
    }
    float most = 0.0f, lanes[8];
    for (size_t i = whole; i < n_pos; i++) {
        const float w = fabsf(pr[i] * d[i]);
        if (w > most) most = w;
    }
    _mm256_storeu_ps(lanes, most8);
    for (int l = 0; l < 8; l++)
        if (lanes[l] > most) most = lanes[l];
    const bool usable = most > 0.0f && most <= FLT_MAX;
    const float inv = usable ? 32767.0f / most : 0.0f;
    const __m256 inv8 = _mm256_set1_ps(inv);
    for (size_t i = 0; i < whole; i += 8) {
        __m256 t =
            _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(pr + i), _mm256_loadu_ps(d + i)), inv8);
        t = _mm256_and_ps(t, _mm256_cmp_ps(t, t, _CMP_ORD_Q)); /* NaN → +0 */
        t = _mm256_min_ps(_mm256_max_ps(t, lo), hi);
        const __m256i q = _mm256_cvtps_epi32(t); /* nearest even, as nearbyintf */
        _mm_storeu_si128((__m128i *)(row + i), _mm_packs_epi32(_mm256_castsi256_si128(q),
                                                               _mm256_extracti128_si256(q, 1)));
    }
    for (size_t i = whole; i < n_pos; i++) row[i] = q8_weight(pr[i] * d[i], inv);
    if (n_pos % 2) row[n_pos] = 0;
    return usable ? most / 32767.0f : 0.0f;
}

/* dv[b·MAX + i] = the scale of block b of row i, eight rows per conversion (a conversion and a
 * store per scale had taken a sixth of the V sums' instructions). */
static void q8_gather_scales(const uint8_t *const *v_rows, size_t n_pos, size_t nb, float *dv) {
    size_t i = 0;
    for (; i + 8 <= n_pos; i += 8) {
        const uint8_t *row[8];
        for (int k = 0; k < 8; k++) row[k] = v_rows[i + k];
        for (size_t b = 0; b < nb; b++) {
            const size_t at = b * sizeof(tf_block_q8_0);
            /* the lane of an insert must be a constant at every optimization level */
            __m128i halves = _mm_cvtsi32_si128(q8_block_half(row[0] + at));
            halves = _mm_insert_epi16(halves, q8_block_half(row[1] + at), 1);
            halves = _mm_insert_epi16(halves, q8_block_half(row[2] + at), 2);
            halves = _mm_insert_epi16(halves, q8_block_half(row[3] + at), 3);
            halves = _mm_insert_epi16(halves, q8_block_half(row[4] + at), 4);
            halves = _mm_insert_epi16(halves, q8_block_half(row[5] + at), 5);
            halves = _mm_insert_epi16(halves, q8_block_half(row[6] + at), 6);
            halves = _mm_insert_epi16(halves, q8_block_half(row[7] + at), 7);
            _mm256_storeu_ps(dv + b * TF_ATTN_Q8_MAX_POS + i, _mm256_cvtph_ps(halves));
        }
    }
    for (; i < n_pos; i++)
        for (size_t b = 0; b < nb; b++)
            dv[b * TF_ATTN_Q8_MAX_POS + i] =
                q8_block_scale_f16c(v_rows[i] + b * sizeof(tf_block_q8_0));
}

static void attn_q8_values(const uint8_t *const *v_rows, size_t n_pos, const float *p,
                           size_t p_stride, size_t n_rows, size_t n, float *out, size_t out_stride,
                           void *work) {
    const size_t nb = n / TF_QK8_0;
    const q8_work w = q8_work_of(work, nb);
    q8_gather_scales(v_rows, n_pos, nb, w.dv);
    int32_t sums[4][32];
    for (size_t r0 = 0; r0 < n_rows; r0 += TF_ATTN_Q8_ROWS) {
        const int nr = n_rows - r0 < TF_ATTN_Q8_ROWS ? (int)(n_rows - r0) : TF_ATTN_Q8_ROWS;
        for (int r = 0; r < nr; r++)
            for (size_t b = 0; b < nb; b++)
                w.scales[r * nb + b] =
                    q8_quantize_block_x8(p + (r0 + r) * p_stride, w.dv + b * TF_ATTN_Q8_MAX_POS,
                                         n_pos, w.wq + (r * nb + b) * TF_ATTN_Q8_MAX_POS);
        const int32_t *w_pairs = (const int32_t *)w.wq;
        for (size_t b = 0; b < nb; b++) {
#define ATTN_Q8_PAIRS(NR) q8_values_pairs(v_rows, n_pos, w_pairs, nb, NR, b, sums)
            ATTN_BY_ROWS(nr, ATTN_Q8_PAIRS);
#undef ATTN_Q8_PAIRS
            for (int r = 0; r < nr; r++)
                for (int e = 0; e < 32; e++)
                    out[(r0 + r) * out_stride + b * TF_QK8_0 + e] =
                        (float)sums[r][e] * w.scales[r * nb + b];
        }
    }
}

/* ---- Q8_0 scores: the query's 16-bit codes times the key's widened ones (cpu_kernels.h) ----
 * Four query rows at a time: per block each row's 32 products go into 8 int32 sums by two madds
 * and an add, and an unpack-and-add transposition puts row r's two parts in lanes r and 4 + r of
 * one vector, so one conversion and one fma a block serve all four rows. Per block that is eight
 * multiplies, where the float products took sixteen fmas and four multiplies on the two fma
 * pipes (one thread, four rows of 256: 41-44 ns a key in cache, 28 this way). */
ATTN_INLINE void q8_scores_key(const uint8_t *k, const int16_t *codes, const float *steps,
                               size_t nb, int nr, float scale, float *scores, size_t stride) {
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *blk = k + b * sizeof(tf_block_q8_0);
        const __m256 dk = _mm256_set1_ps(q8_block_scale_f16c(blk));
        const __m256i k0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 2)));
        const __m256i k1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 18)));
        const int16_t *c = codes + b * 4 * TF_QK8_0;
        __m256i m[4];
        for (int r = 0; r < 4; r++)
            m[r] =
                r >= nr
                    ? _mm256_setzero_si256()
                    : _mm256_add_epi32(
                          _mm256_madd_epi16(k0, _mm256_load_si256((const __m256i *)(c + 32 * r))),
                          _mm256_madd_epi16(k1,
                                            _mm256_load_si256((const __m256i *)(c + 32 * r + 16))));
        const __m256i s01 =
            _mm256_add_epi32(_mm256_unpacklo_epi32(m[0], m[1]), _mm256_unpackhi_epi32(m[0], m[1]));
        const __m256i s23 =
            _mm256_add_epi32(_mm256_unpacklo_epi32(m[2], m[3]), _mm256_unpackhi_epi32(m[2], m[3]));
        const __m256i h =
            _mm256_add_epi32(_mm256_unpacklo_epi64(s01, s23), _mm256_unpackhi_epi64(s01, s23));
        const __m256 d = _mm256_mul_ps(dk, _mm256_load_ps(steps + 8 * b));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(h), acc);
    }
    const __m128 sums = _mm_mul_ps(
        _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)), _mm_set1_ps(scale));
    float out[4];
    _mm_storeu_ps(out, sums);
    for (int r = 0; r < nr; r++) scores[(size_t)r * stride] = out[r];
}

#define ATTN_Q8_ROWS(NR)                                                                    \
    do {                                                                                    \
        for (size_t i = 0; i < n_keys; i++) {                                               \
            if (i + 32 < n_keys) {                                                          \
                q8_prefetch_row(k_rows[i + 32], row_bytes);                                 \
                if (v_rows) q8_prefetch_row_l2(v_rows[i + 32], row_bytes);                  \
            }                                                                               \
            q8_scores_key(k_rows[i], codes, steps, nb, NR, scale, scores + r0 * stride + i, \
                          stride);                                                          \
        }                                                                                   \
    } while (0)

/* work: codes[b][r][32] for the four rows of a pass (64-byte aligned), then steps[b][8] with row
 * r's step in lanes r and 4 + r (zeros past the last row). */
static void attn_q8_scores(const uint8_t *const *k_rows, const uint8_t *const *v_rows,
                           size_t n_keys, const float *q, size_t n_rows, size_t n, float scale,
                           float *scores, size_t stride, void *work) {
    const size_t nb = n / TF_QK8_0, row_bytes = nb * sizeof(tf_block_q8_0);
    int16_t *codes = work;
    float *steps = (float *)(codes + nb * 4 * TF_QK8_0);
    for (size_t r0 = 0; r0 < n_rows; r0 += 4) {
        const size_t nr = n_rows - r0 < 4 ? n_rows - r0 : 4;
        for (size_t b = 0; b < nb; b++)
            for (size_t r = 0; r < 4; r++)
                steps[8 * b + r] = steps[8 * b + 4 + r] =
                    r < nr ? q8_quantize_block_x8(q + (r0 + r) * n + b * TF_QK8_0, q8_ones,
                                                  TF_QK8_0, codes + (b * 4 + r) * TF_QK8_0)
                           : 0.0f;
        ATTN_BY_ROWS(nr, ATTN_Q8_ROWS);
    }
}
#undef ATTN_Q8_ROWS

#undef ATTN_BY_ROWS
#undef ATTN_INLINE
#define K_ATTN_Q8_SCORES attn_q8_scores
#define K_ATTN_Q8_VALUES attn_q8_values
#define K_ATTN_SCORES_TILED attn_scores_tiled
#define K_ATTN_SCORES_VECDOT attn_scores_vecdot
#define K_ATTN_VALUES attn_values
#define K_ATTN_ROUND_F16 attn_round_f16
#else
#define K_ATTN_Q8_SCORES attn_q8_scores_ref
#define K_ATTN_Q8_VALUES attn_q8_values_ref
#define K_ATTN_SCORES_TILED attn_scores_tiled_ref
#define K_ATTN_SCORES_VECDOT attn_scores_vecdot_ref
#define K_ATTN_VALUES attn_values_ref
#define K_ATTN_ROUND_F16 attn_round_f16_ref
#endif
