/* Every entry of the CPU kernel tables (lib/backend/cpu/cpu_kernels.h), the portable one and the
 * x86-64-v3 one, on the same random inputs:
 *   - the two tables give the same bits (memcmp of the float results) for every integer dot of
 *     every weight dtype, every four-row dot, the attention dots, axpy, f16 widening and expf;
 *   - each table's four-row dots equal four calls of the single-row kernel they stand for;
 *   - every result is within a stated tolerance of a float64 reference (weights dequantized by the
 *     scalar reference dequantizer, itself checked against golden data in test_dequant.c, times
 *     the activations the kernel saw, summed in double), so a mistake common to both tables fails.
 * The comparisons with the x86-64-v3 table are left out when this CPU (or this build) has none
 * (x86_v3_table_present_where_supported then reports SKIPPED).
 *
 * The AVX-512 table (its own VNNI loops for Q8_0 and Q5_0, the x86-64-v3 source for the rest) is
 * held to the same: the generic bits for every entry, legacy rows with an odd number of blocks
 * included. Left out (avx512_table_present_where_supported SKIPPED) where the CPU has no AVX-512
 * F/BW/VL and VNNI. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_packed.h"
#include "backend/cpu/cpu_qdot.h"
#include "core/cpu_features.h"
#include "quant/blocks.h"
#include "quant/dequant.h"
#include "quant/dtype.h"
#include "quant/fp16.h"
#include "tinfer/tinfer.h"

/* Q8_0 has the most bytes per element of the dtypes with integer dots. */
enum { MAX_ELEMS = 2048, MAX_ROW_BYTES = MAX_ELEMS / TF_QK8_0 * sizeof(tf_block_q8_0) };

/* ---- the table's entries, listed so that a new one cannot be forgotten ---- */

typedef struct qdot_entry {
    const char *field;
    size_t offset;
    tinfer_dtype dtype;
} qdot_entry;

#define QDOT(field, dtype) \
    { #field, offsetof(tf_cpu_kernels, field), TINFER_DTYPE_##dtype }
static const qdot_entry QDOTS[] = {
    QDOT(q4_0, Q4_0),       QDOT(q5_0, Q5_0),       QDOT(q8_0, Q8_0),       QDOT(q4_k, Q4_K),
    QDOT(q5_k, Q5_K),       QDOT(q6_k, Q6_K),       QDOT(q4_0_rows, Q4_0),  QDOT(q4_k_rows, Q4_K),
    QDOT(q4_k_rows4, Q4_K), QDOT(q4_k_tiled, Q4_K), QDOT(q5_k_tiled, Q5_K), QDOT(q6_k_tiled, Q6_K),
};
enum { N_QDOTS = sizeof QDOTS / sizeof QDOTS[0] };

typedef struct qdot4_entry {
    const char *field;
    size_t offset, single; /* the single-row kernel it is four calls of */
    bool everywhere;       /* every table has it (else it may be NULL in the generic one) */
} qdot4_entry;

#define QDOT4(field, single, everywhere) \
    { #field, offsetof(tf_cpu_kernels, field), offsetof(tf_cpu_kernels, single), everywhere }
static const qdot4_entry QDOT4S[] = {
    QDOT4(q5_0_x4, q5_0, false),
    QDOT4(q8_0_x4, q8_0, false),
    QDOT4(q4_k_rows4_x4, q4_k_rows4, true),
    QDOT4(q6_k_tiled_x4, q6_k_tiled, true),
    QDOT4(q4_k_rows_x4, q4_k_rows, true), /* decode of 4+ sequences */
    QDOT4(q6_k_x4, q6_k, true),
};
enum { N_QDOT4S = sizeof QDOT4S / sizeof QDOT4S[0] };

/* Four weight rows against one token: the single-row kernel it is four calls of. */
typedef struct rows4_entry {
    const char *field;
    size_t offset, single;
    tinfer_dtype dtype;
    bool x86_v3; /* the x86-64-v3 table has it (else it may be NULL there too) */
} rows4_entry;

/* clang-format off */
#define ROWS4(field, single, dtype, x86_v3) \
    { #field, offsetof(tf_cpu_kernels, field), offsetof(tf_cpu_kernels, single), \
      TINFER_DTYPE_##dtype, x86_v3 }
/* clang-format on */
static const rows4_entry ROWS4S[] = {
    ROWS4(q8_0_rows4, q8_0, Q8_0, true),
};
enum { N_ROWS4S = sizeof ROWS4S / sizeof ROWS4S[0] };

/* name, the packed layouts (a pointer's room with its padding; qgemms packs in them), the
 * quantized dots, the four-row dots, the four-weight-row dots, the seven row-tile products (qgemms
 * below: five and the fast head's and fast prompts'), the nine float kernels, the four attention
 * kernels (attention_kernels) and the two over the Q8_0 cache (q8_attention_kernels) tested below:
 * a field added to tf_cpu_kernels fails this until the test calls it too. */
_Static_assert(sizeof(tf_cpu_kernels) ==
                   sizeof(void *) * (2 + N_QDOTS + N_QDOT4S + N_ROWS4S + 7 + 9 + 4 + 2),
               "tf_cpu_kernels has an entry this test does not call");

static tf_qdot_fn qdot_at(const tf_cpu_kernels *k, size_t offset) {
    tf_qdot_fn fn;
    memcpy(&fn, (const char *)k + offset, sizeof fn);
    return fn;
}

static tf_qdot4_fn qdot4_at(const tf_cpu_kernels *k, size_t offset) {
    tf_qdot4_fn fn;
    memcpy(&fn, (const char *)k + offset, sizeof fn);
    return fn;
}

/* ---- random inputs ---- */

static uint32_t next_random(uint32_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static float random_float(uint32_t *state) { /* uniform in [-1, 1] */
    return (float)(next_random(state) % 20001) / 10000.0f - 1.0f;
}

static uint16_t random_scale(uint32_t *state) {
    return tf_f32_to_f16(0.001f + 0.01f * (random_float(state) + 1.0f));
}

/* Random code bytes, the block scales replaced by sane float16 values (random bits could be NaN
 * or infinity), written through the block structs. */
static void random_row(tinfer_dtype dtype, uint8_t *row, uint32_t n_elems, uint32_t *rng) {
    const tf_dtype_traits *traits = tf_dtype_traits_of((uint32_t)dtype);
    const uint32_t n_blocks = n_elems / traits->block_elems;
    assert_true((size_t)n_blocks * traits->block_bytes <= MAX_ROW_BYTES);
    for (size_t i = 0; i < (size_t)n_blocks * traits->block_bytes; i++)
        row[i] = (uint8_t)next_random(rng);
    for (uint32_t b = 0; b < n_blocks; b++) {
        void *block = row + (size_t)b * traits->block_bytes;
        switch (dtype) {
        case TINFER_DTYPE_Q4_0:
            ((tf_block_q4_0 *)block)->d = random_scale(rng);
            break;
        case TINFER_DTYPE_Q5_0:
            ((tf_block_q5_0 *)block)->d = random_scale(rng);
            break;
        case TINFER_DTYPE_Q8_0:
            ((tf_block_q8_0 *)block)->d = random_scale(rng);
            break;
        case TINFER_DTYPE_Q4_K:
            ((tf_block_q4_k *)block)->d = random_scale(rng);
            ((tf_block_q4_k *)block)->dmin = random_scale(rng);
            break;
        case TINFER_DTYPE_Q5_K:
            ((tf_block_q5_k *)block)->d = random_scale(rng);
            ((tf_block_q5_k *)block)->dmin = random_scale(rng);
            break;
        case TINFER_DTYPE_Q6_K:
            ((tf_block_q6_k *)block)->d = random_scale(rng);
            break;
        default:
            fail_msg("no random blocks for %s", traits->name);
        }
    }
}

/* The activations the kernel sees, back in float32: d · q per element. */
static void dequantize_act(tf_act_quant kind, const void *quantized, uint32_t n, float *out) {
    if (kind == TF_ACT_Q8_0) {
        const tf_q8_0_act *blocks = quantized;
        for (uint32_t i = 0; i < n; i++)
            out[i] = blocks[i / TF_QK8_0].d * blocks[i / TF_QK8_0].qs[i % TF_QK8_0];
    } else {
        const tf_q8_k_act *blocks = quantized;
        for (uint32_t i = 0; i < n; i++)
            out[i] = blocks[i / TF_QK_K].d * blocks[i / TF_QK_K].qs[i % TF_QK_K];
    }
}

/* One weight row and four activation rows, quantized as the kernels take them. */
typedef struct qdot_case {
    tinfer_dtype dtype;
    uint32_t n_elems;
    const uint8_t *row;
    _Alignas(16) uint8_t row_storage[MAX_ROW_BYTES + 1];
    _Alignas(16) uint8_t act[4][MAX_ELEMS / TF_QK_K * sizeof(tf_q8_k_act) + 64];
    double expected[4], magnitude[4]; /* float64 reference of each activation row */
} qdot_case;

static void make_case(qdot_case *c, tinfer_dtype dtype, uint32_t n_elems, uint32_t seed) {
    uint32_t rng = seed;
    c->dtype = dtype;
    c->n_elems = n_elems;
    /* Odd seeds put the row at an odd address: blocks in a file may sit anywhere. */
    uint8_t *row = c->row_storage + (seed & 1u);
    random_row(dtype, row, n_elems, &rng);
    c->row = row;
    static float weights[MAX_ELEMS], x[MAX_ELEMS], x_seen[MAX_ELEMS];
    assert_int_equal(tf_dequantize_row(dtype, row, weights, n_elems), TINFER_OK);
    const tf_act_quant kind = tf_cpu_act_quant_of(dtype);
    assert_true(kind != TF_ACT_NONE);
    assert_true(tf_cpu_act_row_bytes(kind, n_elems) <= sizeof c->act[0]);
    const float spread = 0.1f + 3.0f * (random_float(&rng) + 1.0f);
    for (int t = 0; t < 4; t++) {
        for (uint32_t i = 0; i < n_elems; i++) x[i] = spread * (float)(t + 1) * random_float(&rng);
        tf_cpu_quantize_act(kind, x, n_elems, c->act[t]);
        dequantize_act(kind, c->act[t], n_elems, x_seen);
        double sum = 0, magnitude = 0;
        for (uint32_t i = 0; i < n_elems; i++) {
            sum += (double)weights[i] * x_seen[i];
            magnitude += fabs((double)weights[i] * x_seen[i]);
        }
        c->expected[t] = sum;
        c->magnitude[t] = magnitude;
    }
}

/* Float32 sums of a few thousand products: a few ulp of the sum of magnitudes. */
static void assert_near_reference(const qdot_case *c, const char *table, const char *field, int t,
                                  float got) {
    const double error = fabs((double)got - c->expected[t]);
    if (error > 1e-5 * c->magnitude[t] + 1e-6)
        fail_msg("%s %s (%s, n=%u): %.9g, float64 reference %.9g (magnitude %.3g)", table, field,
                 tf_dtype_traits_of((uint32_t)c->dtype)->name, c->n_elems, got, c->expected[t],
                 c->magnitude[t]);
}

static void assert_same_bits(float a, float b, const char *what, const char *field) {
    if (memcmp(&a, &b, sizeof a) != 0)
        fail_msg("%s %s: generic %.9g, SIMD table %.9g", what, field, a, b);
}

static const uint32_t ROW_LENGTHS[] = {TF_QK_K, 3 * TF_QK_K, MAX_ELEMS};

/* ---- the quantized dots ---- */

static void check_qdots(const qdot_case *c, const tf_cpu_kernels *generic,
                        const tf_cpu_kernels *fast) {
    for (size_t e = 0; e < N_QDOTS; e++) {
        if (QDOTS[e].dtype != c->dtype) continue;
        const tf_qdot_fn dot_generic = qdot_at(generic, QDOTS[e].offset);
        assert_non_null(dot_generic);
        for (int t = 0; t < 4; t++) {
            const float got = dot_generic(c->row, c->act[t], c->n_elems);
            assert_near_reference(c, "generic", QDOTS[e].field, t, got);
            if (!fast) continue;
            const tf_qdot_fn dot_fast = qdot_at(fast, QDOTS[e].offset);
            assert_non_null(dot_fast);
            assert_same_bits(got, dot_fast(c->row, c->act[t], c->n_elems), "qdot", QDOTS[e].field);
        }
    }
}

/* A four-row dot (where a table has one) equals the generic single-row kernel on each row. */
static void check_qdot4s(const qdot_case *c, const tf_cpu_kernels *generic,
                         const tf_cpu_kernels *fast) {
    const void *xs[4] = {c->act[0], c->act[1], c->act[2], c->act[3]};
    for (size_t e = 0; e < N_QDOT4S; e++) {
        const tf_qdot_fn single = qdot_at(generic, QDOT4S[e].single);
        bool matches_dtype = false;
        for (size_t s = 0; s < N_QDOTS; s++)
            if (QDOTS[s].offset == QDOT4S[e].single) matches_dtype = QDOTS[s].dtype == c->dtype;
        if (!matches_dtype) continue;
        float want[4];
        for (int t = 0; t < 4; t++) want[t] = single(c->row, c->act[t], c->n_elems);
        const tf_cpu_kernels *tables[2] = {generic, fast};
        for (int k = 0; k < 2; k++) {
            if (!tables[k]) continue;
            const tf_qdot4_fn four = qdot4_at(tables[k], QDOT4S[e].offset);
            if (!four) { /* this table has none; callers fall back to single rows */
                if (QDOT4S[e].everywhere)
                    fail_msg("%s has no %s", tables[k]->name, QDOT4S[e].field);
                continue;
            }
            /* the single-row kernel of the same table maps to it (what cpu_matmul.c looks up) */
            assert_true(tf_cpu_qdot4_of(tables[k], qdot_at(tables[k], QDOT4S[e].single)) == four);
            float got[4];
            four(c->row, xs, c->n_elems, got);
            for (int t = 0; t < 4; t++) {
                if (memcmp(&got[t], &want[t], sizeof got[t]) != 0)
                    fail_msg("%s %s row %d: %.9g, single-row generic %.9g", tables[k]->name,
                             QDOT4S[e].field, t, got[t], want[t]);
                const float alone = qdot_at(tables[k], QDOT4S[e].single)(c->row, xs[t], c->n_elems);
                if (memcmp(&got[t], &alone, sizeof alone) != 0)
                    fail_msg("%s %s row %d: %.9g, single-row %s %.9g", tables[k]->name,
                             QDOT4S[e].field, t, got[t], tables[k]->name, alone);
                assert_near_reference(c, tables[k]->name, QDOT4S[e].field, t, got[t]);
            }
        }
    }
}

/* A four-weight-row dot (where a table has one) equals the single-row kernels on each row, the
 * generic table's and its own: the case's row and three more, at odd and even addresses. */
static void check_rows4s(const qdot_case *c, const tf_cpu_kernels *generic,
                         const tf_cpu_kernels *fast, uint32_t seed) {
    static uint8_t storage[3][MAX_ROW_BYTES + 1];
    const uint8_t *rows[4] = {c->row};
    for (int r = 1; r < 4; r++) {
        uint32_t rng = seed * 7919u + (uint32_t)r;
        uint8_t *row = storage[r - 1] + (r & 1);
        random_row(c->dtype, row, c->n_elems, &rng);
        rows[r] = row;
    }
    for (size_t e = 0; e < N_ROWS4S; e++) {
        if (ROWS4S[e].dtype != c->dtype) continue;
        const tf_cpu_kernels *tables[2] = {generic, fast};
        for (int k = 0; k < 2; k++) {
            if (!tables[k]) continue;
            tf_qdot_rows4_fn four;
            memcpy(&four, (const char *)tables[k] + ROWS4S[e].offset, sizeof four);
            const tf_qdot_fn single = qdot_at(tables[k], ROWS4S[e].single);
            assert_true(tf_cpu_qdot_rows4_of(tables[k], single) == four);
            if (!four) { /* callers fall back to single rows */
                if (ROWS4S[e].x86_v3 && tables[k] == tf_cpu_kernels_x86_v3())
                    fail_msg("%s has no %s", tables[k]->name, ROWS4S[e].field);
                continue;
            }
            float got[4];
            four(rows, c->act[0], c->n_elems, got);
            for (int r = 0; r < 4; r++) {
                const float alone = single(rows[r], c->act[0], c->n_elems);
                const float plain =
                    qdot_at(generic, ROWS4S[e].single)(rows[r], c->act[0], c->n_elems);
                if (memcmp(&got[r], &alone, sizeof alone) != 0 ||
                    memcmp(&got[r], &plain, sizeof plain) != 0)
                    fail_msg("%s %s row %d (n=%u): %.9g, single-row %.9g, generic %.9g",
                             tables[k]->name, ROWS4S[e].field, r, c->n_elems, got[r], alone, plain);
            }
            /* row 0 is the case's own, whose float64 reference is known */
            assert_near_reference(c, tables[k]->name, ROWS4S[e].field, 0, got[0]);
        }
    }
}

/* Legacy formats (32-element blocks) also at odd block counts: 1, 3, 21. */
static const uint32_t LEGACY_ROW_LENGTHS[] = {32, 96, 672};

static void check_dtype(tinfer_dtype dtype) {
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic(), *fast = tf_cpu_kernels_x86_v3();
    const tf_cpu_kernels *z = tf_cpu_kernels_avx512();
    const bool legacy = tf_dtype_traits_of((uint32_t)dtype)->block_elems == 32;
    static qdot_case c;
    for (size_t l = 0; l < 6; l++) {
        if (l >= 3 && !legacy) break;
        const uint32_t n = l < 3 ? ROW_LENGTHS[l] : LEGACY_ROW_LENGTHS[l - 3];
        for (uint32_t seed = 1; seed <= 8; seed++) {
            make_case(&c, dtype, n, seed * 2654435761u + (uint32_t)dtype);
            check_qdots(&c, generic, fast);
            check_qdot4s(&c, generic, fast);
            check_rows4s(&c, generic, fast, seed);
            if (z) {
                check_qdots(&c, generic, z);
                check_qdot4s(&c, generic, z);
                check_rows4s(&c, generic, z, seed);
            }
        }
    }
}

static void q4_0_dots(void **state) {
    (void)state;
    check_dtype(TINFER_DTYPE_Q4_0);
}

static void q5_0_dots(void **state) {
    (void)state;
    check_dtype(TINFER_DTYPE_Q5_0);
}

static void q8_0_dots(void **state) {
    (void)state;
    check_dtype(TINFER_DTYPE_Q8_0);
}

static void q4_k_dots(void **state) {
    (void)state;
    check_dtype(TINFER_DTYPE_Q4_K);
}

static void q5_k_dots(void **state) {
    (void)state;
    check_dtype(TINFER_DTYPE_Q5_K);
}

static void q6_k_dots(void **state) {
    (void)state;
    check_dtype(TINFER_DTYPE_Q6_K);
}

/* ---- the k-quant four-row dots at the edges of their integer ranges ---- */

/* Activation rows built directly (not through the quantizer): every code at -128 or 127, or
 * random, with the bsums they imply. */
static void extreme_act(tf_q8_k_act *blocks, uint32_t n_blocks, int pattern, uint32_t *rng) {
    for (uint32_t b = 0; b < n_blocks; b++) {
        tf_q8_k_act *x = &blocks[b];
        x->d = 0.25f + 0.5f * (random_float(rng) + 1.0f);
        for (int i = 0; i < TF_QK_K; i++) {
            const int8_t values[4] = {127, -128, (int8_t)((i / 4) % 2 ? 127 : -128),
                                      (int8_t)next_random(rng)};
            x->qs[i] = values[pattern];
        }
        for (int g = 0; g < TF_QK_K / 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += x->qs[16 * g + i];
            x->bsums[g] = (int16_t)sum;
        }
    }
}

/* Weight rows with the largest codes, scales and mins, or codes at 0 and the maximum mixed. */
static void extreme_row(tinfer_dtype dtype, uint8_t *row, uint32_t n_blocks, int pattern,
                        uint32_t *rng) {
    for (uint32_t b = 0; b < n_blocks; b++) {
        if (dtype == TINFER_DTYPE_Q4_K) {
            tf_block_q4_k *w = (tf_block_q4_k *)row + b;
            const uint8_t mixed[4] = {0x00, 0xFF, 0x0F, 0xF0};
            for (size_t i = 0; i < sizeof w->qs; i++)
                w->qs[i] = pattern ? mixed[next_random(rng) % 4] : 0xFF;
            for (size_t i = 0; i < sizeof w->scales; i++)
                w->scales[i] = pattern ? (uint8_t)next_random(rng) : 0xFF;
            w->d = random_scale(rng);
            w->dmin = random_scale(rng);
        } else {
            tf_block_q6_k *w = (tf_block_q6_k *)row + b;
            for (size_t i = 0; i < sizeof w->ql; i++)
                w->ql[i] = pattern ? (uint8_t)next_random(rng) : 0xFF;
            for (size_t i = 0; i < sizeof w->qh; i++)
                w->qh[i] = pattern ? (uint8_t)next_random(rng) : 0xFF;
            for (size_t i = 0; i < sizeof w->scales; i++)
                w->scales[i] = (int8_t)(pattern && next_random(rng) % 2 ? -128 : 127);
            w->d = random_scale(rng);
        }
    }
}

/* Every table's Q4_K and Q6_K four-row dots give the generic single-row bits on rows whose
 * integer sums reach the ends of their ranges (the SIMD loops keep them in 16-bit lanes on the
 * way), at 1, 4 and 8 super-blocks. */
static void k_quant_x4_extremes(void **state) {
    (void)state;
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic();
    const tf_cpu_kernels *tables[3] = {generic, tf_cpu_kernels_x86_v3(), tf_cpu_kernels_avx512()};
    const tinfer_dtype dtypes[2] = {TINFER_DTYPE_Q4_K, TINFER_DTYPE_Q6_K};
    const uint32_t lengths[3] = {TF_QK_K, 4 * TF_QK_K, MAX_ELEMS};
    static _Alignas(16) uint8_t row[MAX_ROW_BYTES];
    static tf_q8_k_act act[4][MAX_ELEMS / TF_QK_K];
    uint32_t rng = 31337;
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < 3; l++)
            for (int pattern = 0; pattern < 2; pattern++) {
                const uint32_t n_blocks = lengths[l] / TF_QK_K;
                extreme_row(dtypes[d], row, n_blocks, pattern, &rng);
                for (int first = 0; first < 4; first++) {
                    for (int t = 0; t < 4; t++)
                        extreme_act(act[t], n_blocks, (first + t) % 4, &rng);
                    const void *xs[4] = {act[0], act[1], act[2], act[3]};
                    for (size_t e = 0; e < N_QDOT4S; e++) {
                        bool matches = false;
                        for (size_t q = 0; q < N_QDOTS; q++)
                            if (QDOTS[q].offset == QDOT4S[e].single)
                                matches = QDOTS[q].dtype == dtypes[d];
                        if (!matches) continue;
                        const tf_qdot_fn single = qdot_at(generic, QDOT4S[e].single);
                        for (int k = 0; k < 3; k++) {
                            if (!tables[k]) continue;
                            const tf_qdot4_fn four = qdot4_at(tables[k], QDOT4S[e].offset);
                            assert_non_null(four);
                            float got[4];
                            four(row, xs, lengths[l], got);
                            for (int t = 0; t < 4; t++) {
                                const float want = single(row, xs[t], lengths[l]);
                                if (memcmp(&got[t], &want, sizeof want) != 0)
                                    fail_msg("%s %s (n=%u, pattern %d, row %d): %.9g, generic "
                                             "single-row %.9g",
                                             tables[k]->name, QDOT4S[e].field, lengths[l], pattern,
                                             t, got[t], want);
                            }
                        }
                    }
                }
            }
}

/* ---- the float kernels of attention and the FFN ---- */

enum { FLOAT_N = 333 };

static void random_floats(float *out, size_t n, uint32_t *rng) {
    for (size_t i = 0; i < n; i++) out[i] = random_float(rng);
}

static void float_dots_with(const tf_cpu_kernels *fast);

static void float_dots(void **state) {
    (void)state;
    float_dots_with(tf_cpu_kernels_x86_v3());
    if (tf_cpu_kernels_avx512()) float_dots_with(tf_cpu_kernels_avx512());
}

static void float_dots_with(const tf_cpu_kernels *fast) {
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic();
    uint32_t rng = 777;
    float a[FLOAT_N], b[FLOAT_N];
    random_floats(a, FLOAT_N, &rng);
    random_floats(b, FLOAT_N, &rng);
    for (size_t n = 0; n <= FLOAT_N; n++) { /* every tail shape of every order */
        double exact = 0, magnitude = 0;
        for (size_t i = 0; i < n; i++) {
            exact += (double)a[i] * b[i];
            magnitude += fabs((double)a[i] * b[i]);
        }
        /* Each order adds at most ~50 rounded terms in a chain (lanes, reduction, tail). */
        const double tolerance = 32 * FLT_EPSILON * magnitude;
        const float vecdot = generic->dot_vecdot(a, b, n);
        const float vecdot_f32 = generic->dot_vecdot_f32(a, b, n);
        assert_true(fabs(vecdot - exact) <= tolerance);
        assert_true(fabs(vecdot_f32 - exact) <= tolerance);
        if (fast) {
            assert_same_bits(vecdot, fast->dot_vecdot(a, b, n), "n", "dot_vecdot");
            assert_same_bits(vecdot_f32, fast->dot_vecdot_f32(a, b, n), "n", "dot_vecdot_f32");
        }
        if (n % TF_LANES_TILED != 0) continue; /* dot_tiled takes whole lanes only */
        const float tiled = generic->dot_tiled(a, b, n);
        assert_true(fabs(tiled - exact) <= tolerance);
        if (fast) assert_same_bits(tiled, fast->dot_tiled(a, b, n), "n", "dot_tiled");
    }
}

/* tf_max_f32 and tf_sum_f32 (cpu_kernels.h), whose SSE2 loops must give what their comments
 * promise: the largest value as a scalar `x > max` walk finds it (NaNs skipped, -INFINITY for
 * none), and the sum in eight lanes, tf_hsum8, then the tail in order — bit for bit. */
static void softmax_reductions(void **state) {
    (void)state;
    uint32_t rng = 4242;
    float x[FLOAT_N];
    random_floats(x, FLOAT_N, &rng);
    x[5] = NAN; /* skipped by the maximum wherever it falls */
    x[17] = 1e30f;
    x[200] = -0.0f;
    for (size_t first = 0; first < 24; first++)
        for (size_t n = 0; first + n <= FLOAT_N; n += (n < 40 ? 1 : 37)) {
            const float *v = x + first;
            float max = -INFINITY, lane[8] = {0};
            for (size_t i = 0; i < n; i++) max = v[i] > max ? v[i] : max;
            const float got_max = tf_max_f32(v, n);
            assert_true(got_max == max); /* +0 == -0: either zero may come back */
            size_t i = 0;
            for (; i + 8 <= n; i += 8)
                for (int l = 0; l < 8; l++) lane[l] += isnan(v[i + l]) ? 0.0f : v[i + l];
            float sum = tf_hsum8(lane);
            for (; i < n; i++) sum += isnan(v[i]) ? 0.0f : v[i];
            float clean[FLOAT_N];
            for (size_t j = 0; j < n; j++) clean[j] = isnan(v[j]) ? 0.0f : v[j];
            assert_same_bits(sum, tf_sum_f32(clean, n), "n", "tf_sum_f32");
        }
    const float nans[3] = {NAN, NAN, NAN};
    assert_true(tf_max_f32(nans, 3) == -INFINITY);
    assert_true(tf_max_f32(nans, 0) == -INFINITY);
    assert_true(tf_sum_f32(nans, 0) == 0.0f);
}

static void axpy_with(const tf_cpu_kernels *fast);

static void axpy(void **state) {
    (void)state;
    axpy_with(tf_cpu_kernels_x86_v3());
    if (tf_cpu_kernels_avx512()) axpy_with(tf_cpu_kernels_avx512());
}

static void axpy_with(const tf_cpu_kernels *fast) {
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic();
    uint32_t rng = 4242;
    float v[FLOAT_N], p[16];
    random_floats(v, FLOAT_N, &rng);
    random_floats(p, 16, &rng);
    for (size_t n = FLOAT_N - 16; n <= FLOAT_N; n++) { /* every tail of the 8-lane loop */
        float acc_generic[FLOAT_N] = {0}, acc_fast[FLOAT_N] = {0};
        for (int r = 0; r < 16; r++) {
            generic->axpy(acc_generic, v, p[r], n);
            if (fast) fast->axpy(acc_fast, v, p[r], n);
        }
        double p_sum = 0, p_magnitude = 0;
        for (int r = 0; r < 16; r++) {
            p_sum += p[r];
            p_magnitude += fabs(p[r]);
        }
        for (size_t i = 0; i < n; i++)
            assert_true(fabs(acc_generic[i] - v[i] * p_sum) <= 1e-6 * fabs(v[i]) * p_magnitude);
        for (size_t i = n; i < FLOAT_N; i++) assert_true(acc_generic[i] == 0.0f);
        if (fast) assert_memory_equal(acc_generic, acc_fast, sizeof acc_generic);
    }
}

/* Every half: widened exactly (equal to the bit-exact portable conversion). NaNs only need to stay
 * NaN: F16C quiets signalling ones, as llama.cpp's own conversion does. */
static void f16_to_f32_with(const tf_cpu_kernels *fast);

static void f16_to_f32(void **state) {
    (void)state;
    f16_to_f32_with(tf_cpu_kernels_x86_v3());
    if (tf_cpu_kernels_avx512()) f16_to_f32_with(tf_cpu_kernels_avx512());
}

static void f16_to_f32_with(const tf_cpu_kernels *fast) {
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic();
    enum { N_HALVES = 1 << 16 };
    static uint16_t halves[N_HALVES + 7];
    static float wide_generic[N_HALVES + 7], wide_fast[N_HALVES + 7];
    for (uint32_t i = 0; i < N_HALVES + 7; i++) halves[i] = (uint16_t)(i * 40503u);
    for (size_t n = N_HALVES; n < N_HALVES + 8; n++) { /* every tail of the 8-lane loop */
        generic->f16_to_f32(halves, wide_generic, n);
        if (fast) fast->f16_to_f32(halves, wide_fast, n);
        for (size_t i = 0; i < n; i++) {
            const float exact = tf_f16_to_f32(halves[i]);
            if (isnan(exact)) {
                assert_true(isnan(wide_generic[i]));
                if (fast) assert_true(isnan(wide_fast[i]));
                continue;
            }
            assert_same_bits(exact, wide_generic[i], "reference vs", "generic f16_to_f32");
            if (fast) assert_same_bits(wide_generic[i], wide_fast[i], "half", "f16_to_f32");
        }
    }
}

/* f32_to_f16 against tf_f32_to_f16, bit for bit, in every table: every half widened (so each
 * must come back), every tie between two neighbouring halves (ties to even), the overflow edge,
 * subnormal halves and below, NaNs with payloads, and every tail of the 8-lane loop. */
static void f32_to_f16_with(const tf_cpu_kernels *k) {
    enum { N_HALVES = 1 << 16, N = 3 * N_HALVES + 16 };
    static float floats[N];
    static uint16_t got[N];
    size_t n = 0;
    for (uint32_t h = 0; h < N_HALVES; h++) {
        const float wide = tf_f16_to_f32((uint16_t)h);
        floats[n++] = wide;
        /* halfway to the next half up in magnitude: a tie (its own bits + 0x1000 when normal) */
        uint32_t bits;
        memcpy(&bits, &wide, sizeof bits);
        bits += 0x1000u;
        memcpy(&floats[n++], &bits, sizeof bits);
        bits += 1u; /* just past the tie */
        memcpy(&floats[n++], &bits, sizeof bits);
    }
    const float extra[16] = {65519.0f, 65520.0f, -65520.0f, 1e9f,    -INFINITY, 2.98e-8f,
                             2.99e-8f, 5.96e-8f, 1e-30f,    -1e-30f, 0.0f,      -0.0f,
                             3.0e-5f,  6.1e-5f,  NAN,       -NAN};
    for (int i = 0; i < 16; i++) floats[n++] = extra[i];
    for (size_t len = n - 8; len <= n; len++) {
        k->f32_to_f16(floats, got, len);
        for (size_t i = 0; i < len; i++)
            if (got[i] != tf_f32_to_f16(floats[i]))
                fail_msg("f32_to_f16 of %a (input %zu): %04x, tf_f32_to_f16 %04x", floats[i], i,
                         got[i], tf_f32_to_f16(floats[i]));
    }
}

static void f32_to_f16(void **state) {
    (void)state;
    f32_to_f16_with(tf_cpu_kernels_generic());
    if (tf_cpu_kernels_x86_v3()) f32_to_f16_with(tf_cpu_kernels_x86_v3());
    if (tf_cpu_kernels_avx512()) f32_to_f16_with(tf_cpu_kernels_avx512());
}

/* ggml_v_expf on the whole float range that matters, its special cases (|n| > 126, > 192)
 * included: equal bits in both tables, within 2.5 ulp of exp where the result is normal. */
static void expf_n_with(const tf_cpu_kernels *fast);

static void expf_n(void **state) {
    (void)state;
    expf_n_with(tf_cpu_kernels_x86_v3());
    if (tf_cpu_kernels_avx512()) expf_n_with(tf_cpu_kernels_avx512());
}

static void expf_n_with(const tf_cpu_kernels *fast) {
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic();
    enum { N = 4001 };
    static float x[N + 3], e_generic[N + 3], e_fast[N + 3];
    for (int i = 0; i < N; i++) x[i] = -150.0f + 250.0f * (float)i / (N - 1); /* -150 .. 100 */
    x[N] = -INFINITY;
    x[N + 1] = INFINITY;
    x[N + 2] = 0.0f;
    generic->expf_n(x, e_generic, N + 3);
    for (int i = 0; i < N; i++) {
        const double exact = exp((double)x[i]);
        if (exact > FLT_MAX) assert_true(isinf(e_generic[i]));
        else if (exact >= FLT_MIN)
            assert_true(fabs(e_generic[i] - exact) <= 2.5 * FLT_EPSILON * exact);
        else assert_true(e_generic[i] >= 0.0f && e_generic[i] <= FLT_MIN);
    }
    assert_true(e_generic[N] == 0.0f);
    assert_true(isinf(e_generic[N + 1]));
    assert_true(e_generic[N + 2] == 1.0f);
    if (!fast) return;
    fast->expf_n(x, e_fast, N + 3);
    assert_memory_equal(e_generic, e_fast, sizeof e_generic);
}

/* gelu_table_mul against its definition, on every table: a made-up table (any contents do: the
 * kernel only looks up), inputs around both clamps, the float16 rounding ties, subnormals, ±inf
 * and NaN, and lengths with and without a tail. */
static void gelu_table_mul(void **state) {
    (void)state;
    static uint16_t table[(1 << 16) + 2];
    for (uint32_t i = 0; i < (1u << 16); i++) table[i] = (uint16_t)(i * 40503u + 17u) & 0x7BFFu;
    enum { N = 1203 };
    static float x[N], up[N], want[N], got[N];
    uint32_t rng = 99u;
    for (int i = 0; i < N; i++) {
        x[i] = 24.0f * random_float(&rng);
        up[i] = 1.0f + random_float(&rng);
    }
    const float special[] = {-10.0f,
                             10.0f,
                             nextafterf(-10.0f, 0.0f),
                             nextafterf(10.0f, 0.0f),
                             1.00048828125f /* a float16 tie */,
                             1e-8f,
                             -1e-30f,
                             65520.0f,
                             INFINITY,
                             -INFINITY,
                             NAN,
                             -0.0f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) x[i * 7] = special[i];
    for (int i = 0; i < N; i++) {
        const float g = x[i] <= -10.0f  ? 0.0f
                        : x[i] >= 10.0f ? x[i]
                                        : tf_f16_to_f32(table[tf_f32_to_f16(x[i])]);
        want[i] = g * up[i];
    }
    const tf_cpu_kernels *tables[3] = {tf_cpu_kernels_generic(), tf_cpu_kernels_x86_v3(),
                                       tf_cpu_kernels_avx512()};
    for (int k = 0; k < 3; k++)
        for (size_t n = N - 8; tables[k] && n <= N; n += 8 - 1) {
            memcpy(got, x, sizeof got);
            tables[k]->gelu_table_mul(table, got, up, n);
            assert_memory_equal(got, want, n * sizeof *got);
            assert_memory_equal(got + n, x + n, (N - n) * sizeof *got); /* nothing past n */
        }
}

/* rope_neox against its definition written out here with libm's fmaf (one rounding), on every
 * table: random heads and angles, products that cancel (where an unfused multiply-add would
 * differ), lengths with and without a tail, nothing written past n. */
static void rope_neox(void **state) {
    (void)state;
    enum { N = 133 };
    static float x0[N], x1[N], c[N], s[N], want0[N], want1[N], got0[N], got1[N];
    uint32_t rng = 7u;
    for (int i = 0; i < N; i++) {
        x0[i] = 30.0f * random_float(&rng);
        x1[i] = 30.0f * random_float(&rng);
        const float angle = 100.0f * random_float(&rng);
        c[i] = cosf(angle);
        s[i] = sinf(angle);
    }
    x0[3] = x1[3], c[3] = s[3]; /* x0·c − x1·s cancels to the fused product's rounding error */
    for (int i = 0; i < N; i++) {
        want0[i] = fmaf(x0[i], c[i], -(x1[i] * s[i]));
        want1[i] = fmaf(x0[i], s[i], x1[i] * c[i]);
    }
    assert_true(want0[3] != 0.0f); /* an unfused rotation gives 0 here */
    const tf_cpu_kernels *tables[3] = {tf_cpu_kernels_generic(), tf_cpu_kernels_x86_v3(),
                                       tf_cpu_kernels_avx512()};
    for (int k = 0; k < 3; k++)
        for (size_t n = N - 16; tables[k] && n <= N; n += 5) {
            memcpy(got0, x0, sizeof got0);
            memcpy(got1, x1, sizeof got1);
            tables[k]->rope_neox(got0, got1, n, c, s);
            assert_memory_equal(got0, want0, n * sizeof *got0);
            assert_memory_equal(got1, want1, n * sizeof *got1);
            assert_memory_equal(got0 + n, x0 + n, (N - n) * sizeof *got0);
            assert_memory_equal(got1 + n, x1 + n, (N - n) * sizeof *got1);
        }
}

/* Whether the kernel lists flag for the first CPU in /proc/cpuinfo: a source independent of the
 * library's CPUID decoding (false where the file is missing). */
static bool cpuinfo_has(const char *flag) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return false;
    char line[8192];
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) {
            char padded[64];
            snprintf(padded, sizeof padded, " %s", flag);
            const size_t n = strlen(padded);
            for (const char *at = strstr(line, padded); at && !found; at = strstr(at + 1, padded))
                found = at[n] == ' ' || at[n] == '\n' || at[n] == '\0';
            break;
        }
    fclose(f);
    return found;
}

/* The library's CPUID reading agrees with the kernel's flags. */
static void cpu_features_match_proc_cpuinfo(void **state) {
    (void)state;
#if defined(__x86_64__)
    const tf_cpu_features *cpu = tf_cpu_features_get();
    FILE *cpuinfo = fopen("/proc/cpuinfo", "r");
    if (!cpuinfo) skip();
    fclose(cpuinfo);
    assert_int_equal(cpu->avx2, cpuinfo_has("avx2"));
    assert_int_equal(cpu->fma, cpuinfo_has("fma"));
    assert_int_equal(cpu->f16c, cpuinfo_has("f16c"));
    assert_int_equal(cpu->avx512f, cpuinfo_has("avx512f"));
    assert_int_equal(cpu->avx512bw, cpuinfo_has("avx512bw"));
    assert_int_equal(cpu->avx512vl, cpuinfo_has("avx512vl"));
    assert_int_equal(cpu->avx512_vnni, cpuinfo_has("avx512_vnni"));
    assert_int_equal(cpu->avx512_bf16, cpuinfo_has("avx512_bf16"));
#else
    skip();
#endif
}

/* On an x86-64 CPU with AVX2, FMA and F16C the x86-64-v3 table must be there (when built), so the
 * comparisons are never dropped silently. Where it is not, this test reports SKIPPED and the
 * others check the generic table alone against the float64 references. */
static void x86_v3_table_present_where_supported(void **state) {
    (void)state;
    assert_string_equal(tf_cpu_kernels_generic()->name, "generic");
#if defined(__x86_64__)
    const bool cpu_has = cpuinfo_has("avx2") && cpuinfo_has("fma") && cpuinfo_has("f16c");
    if (!tf_cpu_kernels_x86_v3_built() || !cpu_has) {
        assert_null(tf_cpu_kernels_x86_v3());
        skip();
    }
    assert_non_null(tf_cpu_kernels_x86_v3());
    assert_string_equal(tf_cpu_kernels_x86_v3()->name, "x86-64-v3");
#else
    assert_null(tf_cpu_kernels_x86_v3());
    skip();
#endif
}

/* On a CPU with AVX-512 F/BW/VL and VNNI (and the table built) the avx512 table is there, so its
 * checks are never dropped silently; elsewhere SKIPPED. */
static void avx512_table_present_where_supported(void **state) {
    (void)state;
#if defined(__x86_64__)
    const bool cpu_has = cpuinfo_has("avx2") && cpuinfo_has("fma") && cpuinfo_has("f16c") &&
                         cpuinfo_has("avx512f") && cpuinfo_has("avx512bw") &&
                         cpuinfo_has("avx512vl") && cpuinfo_has("avx512_vnni");
    if (!tf_cpu_kernels_avx512_built() || !cpu_has) {
        assert_null(tf_cpu_kernels_avx512());
        skip();
    }
    assert_non_null(tf_cpu_kernels_avx512());
    assert_string_equal(tf_cpu_kernels_avx512()->name, "avx512");
#else
    assert_null(tf_cpu_kernels_avx512());
    skip();
#endif
}

/* TINFER_CPU names a path, falling back to the best supported one below it; TINFER_FORCE_GENERIC
 * wins; anything else is the default (the fastest). */
static void tinfer_cpu_selects_the_path(void **state) {
    (void)state;
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic(), *v3 = tf_cpu_kernels_x86_v3();
    const tf_cpu_kernels *z = tf_cpu_kernels_avx512();
    const tf_cpu_kernels *avx2 = v3 ? v3 : generic, *best = z ? z : avx2;
    unsetenv("TINFER_FORCE_GENERIC");
    unsetenv("TINFER_CPU");
    assert_ptr_equal(tf_cpu_kernels_select(), best);
    const struct {
        const char *value;
        const tf_cpu_kernels *want;
    } cases[] = {{"generic", generic}, {"avx2", avx2}, {"avx512", best},
                 {"auto", best},       {"", best},     {"neon", best}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("TINFER_CPU", cases[i].value, 1);
        assert_ptr_equal(tf_cpu_kernels_select(), cases[i].want);
    }
    setenv("TINFER_CPU", "avx512", 1);
    setenv("TINFER_FORCE_GENERIC", "1", 1);
    assert_ptr_equal(tf_cpu_kernels_select(), generic);
    setenv("TINFER_FORCE_GENERIC", "0", 1);
    assert_ptr_equal(tf_cpu_kernels_select(), best);
    unsetenv("TINFER_FORCE_GENERIC");
    unsetenv("TINFER_CPU");
}

/* ---- the attention kernels over float16 rows ----
 * Each score equals dot_tiled / dot_vecdot of the widened row and the query times the scale, each
 * V lane equals axpy of the widened rows into that lane in position order, in the generic table
 * and, bit for bit, in every SIMD table: for any number of keys, rows, widths (every tail of the
 * register blocks) and any lane phase. */
enum { ATTN_KEYS = 71, ATTN_ROWS = 9, ATTN_N = 272 };

static void attention_scores_with(const tf_cpu_kernels *k, const uint16_t *const *rows,
                                  const float *q, bool tiled) {
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic();
    static const size_t widths[] = {8, 16, 24, 32, 40, 64, 72, 256, 264, 272};
    static const size_t odd[] = {1, 7, 31, 33, 100, 255};
    static float got[ATTN_ROWS * ATTN_KEYS], widened[ATTN_N];
    const float scale = 0.0625f;
    for (size_t w = 0; w < 16; w++) {
        if (w >= 10 && tiled) break;
        const size_t n = w < 10 ? widths[w] : odd[w - 10];
        for (size_t n_rows = 1; n_rows <= ATTN_ROWS; n_rows += (n_rows < 5 ? 1 : 4))
            for (size_t n_keys = 1; n_keys <= ATTN_KEYS; n_keys += 35) {
                if (tiled) k->attn_scores_tiled(rows, n_keys, q, n_rows, n, scale, got, n_keys);
                else k->attn_scores_vecdot(rows, n_keys, q, n_rows, n, scale, got, n_keys);
                for (size_t i = 0; i < n_keys; i++) {
                    generic->f16_to_f32(rows[i], widened, n);
                    for (size_t r = 0; r < n_rows; r++) {
                        const float *qr = q + r * n;
                        const float want = (tiled ? generic->dot_tiled(widened, qr, n)
                                                  : generic->dot_vecdot(widened, qr, n)) *
                                           scale;
                        assert_same_bits(want, got[r * n_keys + i], "score",
                                         tiled ? "attn_scores_tiled" : "attn_scores_vecdot");
                    }
                }
            }
    }
}

static void attention_values_with(const tf_cpu_kernels *k, const uint16_t *const *rows,
                                  const float *p) {
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic();
    static const size_t widths[] = {1, 8, 16, 24, 64, 72, 128, 200, 256, 259};
    static float got[ATTN_ROWS * TF_LANES_VECDOT * ATTN_N],
        want[ATTN_ROWS * TF_LANES_VECDOT * ATTN_N];
    static float widened[ATTN_N];
    for (size_t w = 0; w < 10; w++)
        for (size_t n_lanes = TF_LANES_TILED; n_lanes <= TF_LANES_VECDOT; n_lanes *= 4)
            for (size_t n_rows = 1; n_rows <= ATTN_ROWS; n_rows += (n_rows < 5 ? 1 : 4))
                for (size_t n_pos = 1; n_pos <= ATTN_KEYS; n_pos += 23) {
                    const size_t width = widths[w], pos0 = 3 * n_pos + n_rows;
                    memset(want, 0, n_rows * n_lanes * width * sizeof *want);
                    for (size_t i = 0; i < n_pos; i++) {
                        generic->f16_to_f32(rows[i], widened, width);
                        for (size_t r = 0; r < n_rows; r++)
                            generic->axpy(want + (r * n_lanes + (pos0 + i) % n_lanes) * width,
                                          widened, p[r * ATTN_KEYS + i], width);
                    }
                    memset(got, 0xff, sizeof got); /* every element must be written */
                    k->attn_values(rows, n_pos, pos0, p, ATTN_KEYS, n_rows, n_lanes, width, got);
                    if (memcmp(want, got, n_rows * n_lanes * width * sizeof *got) != 0)
                        fail_msg("attn_values (%s): width %zu, %zu lanes, %zu rows, %zu positions",
                                 k->name, width, n_lanes, n_rows, n_pos);
                }
}

/* Spans longer than the kernels' chunks of positions: the lanes' sums carried across chunks. */
static void attention_values_long_with(const tf_cpu_kernels *k, const uint16_t *const *keys,
                                       const float *p_keys) {
    enum { LONG_POS = 2500, LONG_ROWS = 5 };
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic();
    static const uint16_t *rows[LONG_POS];
    static float p[LONG_ROWS * LONG_POS], widened[ATTN_N];
    static float got[LONG_ROWS * TF_LANES_VECDOT * ATTN_N],
        want[LONG_ROWS * TF_LANES_VECDOT * ATTN_N];
    for (size_t i = 0; i < LONG_POS; i++) {
        rows[i] = keys[(i * 13) % ATTN_KEYS];
        for (size_t r = 0; r < LONG_ROWS; r++) p[r * LONG_POS + i] = p_keys[(i + r) % ATTN_KEYS];
    }
    static const size_t widths[] = {24, 128, 264};
    for (size_t w = 0; w < 3; w++)
        for (size_t n_lanes = TF_LANES_TILED; n_lanes <= TF_LANES_VECDOT; n_lanes *= 4)
            for (size_t n_rows = 1; n_rows <= LONG_ROWS; n_rows += 4) {
                const size_t width = widths[w], pos0 = 5 + n_rows;
                memset(want, 0, n_rows * n_lanes * width * sizeof *want);
                for (size_t i = 0; i < LONG_POS; i++) {
                    generic->f16_to_f32(rows[i], widened, width);
                    for (size_t r = 0; r < n_rows; r++)
                        generic->axpy(want + (r * n_lanes + (pos0 + i) % n_lanes) * width, widened,
                                      p[r * LONG_POS + i], width);
                }
                memset(got, 0xff, sizeof got);
                k->attn_values(rows, LONG_POS, pos0, p, LONG_POS, n_rows, n_lanes, width, got);
                if (memcmp(want, got, n_rows * n_lanes * width * sizeof *got) != 0)
                    fail_msg("attn_values (%s), long span: width %zu, %zu lanes, %zu rows", k->name,
                             width, n_lanes, n_rows);
            }
}

static void attention_kernels(void **state) {
    (void)state;
    uint32_t rng = 9001;
    static uint16_t halves[ATTN_KEYS][ATTN_N];
    static float q[ATTN_ROWS * ATTN_N], p[ATTN_ROWS * ATTN_KEYS];
    const uint16_t *rows[ATTN_KEYS];
    for (size_t i = 0; i < ATTN_KEYS; i++) {
        for (size_t d = 0; d < ATTN_N; d++) halves[i][d] = tf_f32_to_f16(4.0f * random_float(&rng));
        rows[i] = halves[i];
    }
    random_floats(q, ATTN_ROWS * ATTN_N, &rng);
    for (size_t i = 0; i < ATTN_ROWS * ATTN_KEYS; i++) /* probabilities, some exactly 0 */
        p[i] = i % 7 == 3 ? 0.0f : 0.5f * (random_float(&rng) + 1.0f);
    const tf_cpu_kernels *tables[] = {tf_cpu_kernels_generic(), tf_cpu_kernels_x86_v3(),
                                      tf_cpu_kernels_avx512()};
    /* float16 rounding: every half's neighbourhood — the halves themselves, the midpoints
     * between neighbours (ties to even), just off them, subnormals, overflow — then scaled */
    static float x[4 * 65536], want[4 * 65536], got[4 * 65536];
    size_t n_x = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7C00) == 0x7C00) continue; /* inf and NaN */
        const float a = tf_f16_to_f32((uint16_t)h), b = tf_f16_to_f32((uint16_t)(h + 1));
        const float mid =
            (h & 0x7FFF) == 0x7BFF ? 65520.0f * (a < 0 ? -1.0f : 1.0f) : a + (b - a) * 0.5f;
        x[n_x++] = a;
        x[n_x++] = mid;
        x[n_x++] = nextafterf(mid, 0.0f);
        x[n_x++] = nextafterf(mid, INFINITY);
    }
    for (int t = 0; t < 3; t++) {
        if (!tables[t]) continue;
        for (int s = 0; s < 2; s++) {
            const float scale = s ? 0.7f : 1.0f;
            for (size_t i = 0; i < n_x; i++) want[i] = tf_f16_to_f32(tf_f32_to_f16(x[i] * scale));
            for (size_t n = n_x - 9; n <= n_x; n++) { /* every tail */
                memset(got, 0, sizeof got);
                tables[t]->attn_round_f16(x, scale, got, n);
                if (memcmp(want, got, n * sizeof *got) != 0)
                    fail_msg("attn_round_f16 (%s): n %zu, scale %g", tables[t]->name, n, scale);
            }
        }
    }
    for (int t = 0; t < 3; t++) {
        if (!tables[t]) continue;
        attention_scores_with(tables[t], rows, q, true);
        attention_scores_with(tables[t], rows, q, false);
        attention_values_with(tables[t], rows, p);
        attention_values_long_with(tables[t], rows, p);
    }
}

/* ---- the attention kernels over Q8_0 rows ----
 * Every table gives the generic one's bits (the arithmetic cpu_kernels.h states), and the generic
 * one's sums are close to the same sums in double over the dequantized rows: the scores within
 * float rounding, the V sums within half a 16-bit step of each block's largest weight per term.
 * For 1..9 query rows, head widths 32..288, 1..300 keys (1..256 positions for V, odd and even),
 * block scales of several magnitudes, zero and negative. */
enum { Q8_KEYS = 300, Q8_ROWS = 9, Q8_N = 288 };

/* Row i's element e, dequantized. */
static double q8_element(const uint8_t *row, size_t e) {
    const uint8_t *block = row + e / 32 * sizeof(tf_block_q8_0);
    uint16_t half;
    memcpy(&half, block, sizeof half);
    return (double)tf_f16_to_f32(half) * (int8_t)block[2 + e % 32];
}

static _Alignas(64) uint8_t q8_work[(Q8_N / 32) * (TF_ATTN_Q8_MAX_POS * 12 + 16)];

/* The scores round each query block to 16-bit codes: the table's bits equal the generic one's,
 * and those are within float rounding plus half a code step per element (the largest |q_e| of
 * the block / 32767 / 2, times |k_e|) of the float dot in double. */
static void q8_scores_with(const tf_cpu_kernels *k, const uint8_t *const *rows, const float *q) {
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic();
    static float got[Q8_ROWS * Q8_KEYS], want[Q8_ROWS * Q8_KEYS];
    const float scale = 0.0625f;
    for (size_t n = 32; n <= Q8_N; n += 32 * (n < 64 ? 1 : 7))
        for (size_t n_rows = 1; n_rows <= Q8_ROWS; n_rows += (n_rows < 5 ? 1 : 4))
            for (size_t n_keys = 1; n_keys <= Q8_KEYS; n_keys += 33) {
                k->attn_q8_scores(rows, rows, n_keys, q, n_rows, n, scale, got, n_keys, q8_work);
                generic->attn_q8_scores(rows, NULL, n_keys, q, n_rows, n, scale, want, n_keys,
                                        q8_work);
                if (memcmp(want, got, n_rows * n_keys * sizeof *got) != 0)
                    fail_msg("attn_q8_scores (%s): n %zu, %zu rows, %zu keys", k->name, n, n_rows,
                             n_keys);
                for (size_t i = 0; i < n_rows * n_keys; i++)
                    if (!isfinite(want[i]))
                        fail_msg("attn_q8_scores: %g (row %zu, n %zu)", want[i], i / n_keys, n);
                for (size_t r = 0; r < n_rows; r++)
                    for (size_t i = 0; i < n_keys && r != 1 && r != 2; i++) {
                        double exact = 0, magnitude = 0, rounding = 0;
                        for (size_t e = 0; e < n; e++) {
                            double most = 0;
                            for (size_t j = e / 32 * 32; j < e / 32 * 32 + 32; j++)
                                most = fmax(most, fabs(q[r * n + j]));
                            exact += q8_element(rows[i], e) * q[r * n + e];
                            magnitude += fabs(q8_element(rows[i], e) * q[r * n + e]);
                            rounding += 0.5 * most / 32767 * fabs(q8_element(rows[i], e));
                        }
                        if (fabs(want[r * n_keys + i] - exact * scale) >
                            (rounding * 1.001 + 1e-6 * magnitude) * scale + 1e-30)
                            fail_msg("attn_q8_scores: %.9g, in double %.9g (n %zu)",
                                     want[r * n_keys + i], exact * scale, n);
                    }
            }
}

static void q8_values_with(const tf_cpu_kernels *k, const uint8_t *const *rows, const float *p) {
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic();
    enum { OUT_STRIDE = Q8_N + 3 };
    static float got[Q8_ROWS * OUT_STRIDE], want[Q8_ROWS * OUT_STRIDE];
    for (size_t n = 32; n <= Q8_N; n += 32 * (n < 64 ? 1 : 7))
        for (size_t n_rows = 1; n_rows <= Q8_ROWS; n_rows += (n_rows < 5 ? 1 : 4))
            for (size_t n_pos = 1; n_pos <= TF_ATTN_Q8_MAX_POS; n_pos += n_pos < 232 ? 33 : 24) {
                memset(got, 0xff, sizeof got); /* every element must be written */
                memset(want, 0xff, sizeof want);
                k->attn_q8_values(rows, n_pos, p, Q8_KEYS, n_rows, n, got, OUT_STRIDE, q8_work);
                generic->attn_q8_values(rows, n_pos, p, Q8_KEYS, n_rows, n, want, OUT_STRIDE,
                                        q8_work);
                if (memcmp(want, got, sizeof got) != 0)
                    fail_msg("attn_q8_values (%s): n %zu, %zu rows, %zu positions", k->name, n,
                             n_rows, n_pos);
                for (size_t r = 0; r < n_rows; r++)
                    for (size_t e = 0; e < n; e++) {
                        double most = 0; /* the block's largest |weight|: its 16-bit step */
                        for (size_t i = 0; i < n_pos; i++) {
                            uint16_t half;
                            memcpy(&half, rows[i] + e / 32 * sizeof(tf_block_q8_0), sizeof half);
                            const double w = fabs((double)p[r * Q8_KEYS + i] * tf_f16_to_f32(half));
                            if (w > most) most = w;
                        }
                        double exact = 0, magnitude = 0, rounding = 0;
                        for (size_t i = 0; i < n_pos; i++) {
                            exact += q8_element(rows[i], e) * p[r * Q8_KEYS + i];
                            magnitude += fabs(q8_element(rows[i], e) * p[r * Q8_KEYS + i]);
                            const int8_t code =
                                (int8_t)rows[i][e / 32 * sizeof(tf_block_q8_0) + 2 + e % 32];
                            rounding += 0.5 * most / 32767 * abs(code); /* half a step each */
                        }
                        if (fabs(want[r * OUT_STRIDE + e] - exact) >
                            rounding * 1.001 + 1e-6 * magnitude + 1e-30)
                            fail_msg("attn_q8_values: %.9g, in double %.9g (n %zu, %zu positions)",
                                     want[r * OUT_STRIDE + e], exact, n, n_pos);
                    }
            }
}

static void q8_attention_kernels(void **state) {
    (void)state;
    uint32_t rng = 4242;
    enum { ROW_BYTES = Q8_N / 32 * sizeof(tf_block_q8_0) };
    static uint8_t cache[Q8_KEYS][ROW_BYTES];
    static float q[Q8_ROWS * Q8_N], p[Q8_ROWS * Q8_KEYS];
    const uint8_t *rows[Q8_KEYS];
    for (size_t i = 0; i < Q8_KEYS; i++) {
        for (size_t b = 0; b < Q8_N / 32; b++) {
            uint8_t *block = cache[i] + b * sizeof(tf_block_q8_0);
            const uint16_t scale = (i + b) % 11 == 0  ? 0
                                   : (i + b) % 5 == 0 ? tf_f32_to_f16(-3.0f * random_float(&rng))
                                                      : random_scale(&rng);
            memcpy(block, &scale, sizeof scale);
            for (size_t e = 0; e < 32; e++) block[2 + e] = (uint8_t)(next_random(&rng) % 255 - 127);
        }
        rows[i] = cache[(i * 7) % Q8_KEYS]; /* not in memory order */
    }
    random_floats(q, Q8_ROWS * Q8_N, &rng);
    /* a NaN and an infinity in a block of query rows 1 and 2 (the block's codes then go to 0 and
     * its step to 0, or the NaN alone to 0): every table the same bits, no double check there */
    q[1 * Q8_N + 37] = NAN;
    q[2 * Q8_N + 70] = INFINITY;
    for (size_t i = 0; i < Q8_ROWS * Q8_KEYS; i++)
        p[i] = i % 7 == 3 ? 0.0f : 0.5f * (random_float(&rng) + 1.0f);
    const tf_cpu_kernels *tables[] = {tf_cpu_kernels_generic(), tf_cpu_kernels_x86_v3(),
                                      tf_cpu_kernels_avx512()};
    for (int t = 0; t < 3; t++) {
        if (!tables[t]) continue;
        q8_scores_with(tables[t], rows, q);
        q8_values_with(tables[t], rows, p);
    }
}

/* ---- the row-tile products (q5_0_gemm, q8_0_gemm, q4_k_rows4_gemm, q4_k_rows_gemm,
 * q6_k_tiled_gemm) ---- */

enum { GEMM_ROWS = 48, GEMM_TOKENS = 33, GEMM_Y_STRIDE = GEMM_ROWS + 5 };

/* Rows of random codes, every fifth one all lowest codes and every seventh all highest (Q5_0 0
 * and 31, Q8_0 -128 and 127, Q4_K 0 and 15 with every scale and min 63, Q6_K 0 with scales
 * 127 and 63 with scales -128); tokens quantized from
 * random floats, every third one's bytes then overwritten with -128 and 127 in turn (VPDPBUSD's
 * signed operand at both ends; Q8_K's bsums recomputed to match). */
static void gemm_inputs(tinfer_dtype dtype, uint32_t n_elems, uint8_t *w, size_t row_bytes,
                        uint8_t *act, size_t act_stride, uint32_t *rng) {
    const tf_dtype_traits *traits = tf_dtype_traits_of((uint32_t)dtype);
    const uint32_t n_blocks = n_elems / traits->block_elems;
    for (uint32_t r = 0; r < GEMM_ROWS; r++) {
        uint8_t *row = w + r * row_bytes;
        random_row(dtype, row, n_elems, rng);
        const int extreme = r % 5 == 4 ? 0 : r % 7 == 6 ? 1 : -1;
        for (uint32_t b = 0; extreme >= 0 && b < n_blocks; b++) {
            if (dtype == TINFER_DTYPE_Q5_0) {
                tf_block_q5_0 *blk = (tf_block_q5_0 *)row + b;
                memset(blk->qh, extreme ? 0xFF : 0x00, sizeof blk->qh);
                memset(blk->qs, extreme ? 0xFF : 0x00, sizeof blk->qs);
            } else if (dtype == TINFER_DTYPE_Q4_K) {
                tf_block_q4_k *blk = (tf_block_q4_k *)row + b;
                memset(blk->qs, extreme ? 0xFF : 0x00, sizeof blk->qs);
                memset(blk->scales, 0xFF, sizeof blk->scales);
            } else if (dtype == TINFER_DTYPE_Q6_K) {
                tf_block_q6_k *blk = (tf_block_q6_k *)row + b;
                memset(blk->ql, extreme ? 0xFF : 0x00, sizeof blk->ql);
                memset(blk->qh, extreme ? 0xFF : 0x00, sizeof blk->qh);
                memset(blk->scales, extreme ? 0x80 : 0x7F, sizeof blk->scales);
            } else {
                tf_block_q8_0 *blk = (tf_block_q8_0 *)row + b;
                memset(blk->qs, extreme ? 0x7F : 0x80, sizeof blk->qs);
            }
        }
    }
    const tf_act_quant kind = tf_cpu_act_quant_of(dtype);
    float x[MAX_ELEMS];
    for (uint32_t t = 0; t < GEMM_TOKENS; t++) {
        for (uint32_t i = 0; i < n_elems; i++) x[i] = 2.0f * random_float(rng);
        uint8_t *row = act + t * act_stride;
        tf_cpu_quantize_act(kind, x, n_elems, row);
        if (t % 3 != 2) continue;
        if (kind == TF_ACT_Q8_0) {
            /* ±127: quantize_q8_0 scales by 127/amax, so -128 never comes out of it, and ggml's
             * AVX2 sign trick (the x86-64-v3 table's) is exact only from -127 up */
            tf_q8_0_act *blocks = (tf_q8_0_act *)row;
            for (uint32_t b = 0; b < n_elems / TF_QK8_0; b++)
                for (int i = 0; i < TF_QK8_0; i++)
                    blocks[b].qs[i] = (int8_t)((i + b + t) % 2 ? 127 : -127);
        } else {
            tf_q8_k_act *blocks = (tf_q8_k_act *)row;
            for (uint32_t b = 0; b < n_elems / TF_QK_K; b++) {
                for (int i = 0; i < TF_QK_K; i++)
                    blocks[b].qs[i] = (int8_t)((i / 16 + b + t) % 2 ? 127 : -128);
                for (int g = 0; g < TF_QK_K / 16; g++) {
                    int sum = 0;
                    for (int i = 0; i < 16; i++) sum += blocks[b].qs[16 * g + i];
                    blocks[b].bsums[g] = (int16_t)sum;
                }
            }
        }
    }
}

enum { GEMM_SENTINEL = -12345 }; /* every y a gemm call should leave alone holds it */

/* One row-tile call over n_rows rows and n_tokens tokens into y (GEMM_Y_STRIDE apart), every
 * element of y set to GEMM_SENTINEL first. */
static void call_gemm(tf_qgemm_fn gemm, const uint8_t *w, const uint8_t *packed, size_t row_bytes,
                      uint32_t n_rows, const uint8_t *act, size_t act_stride, uint32_t n_tokens,
                      uint32_t n_elems, float y[GEMM_TOKENS * GEMM_Y_STRIDE], void *scratch) {
    for (size_t c = 0; c < GEMM_TOKENS * GEMM_Y_STRIDE; c++) y[c] = (float)GEMM_SENTINEL;
    gemm(&(tf_qgemm_args){.w = w,
                          .packed = packed,
                          .row_bytes = row_bytes,
                          .n_rows = n_rows,
                          .x_quant = act,
                          .x_stride = act_stride,
                          .n_tokens = n_tokens,
                          .n_elems = n_elems,
                          .y = y,
                          .y_stride = GEMM_Y_STRIDE,
                          .scratch = scratch});
}

/* A table's row-tile product against its own single-row kernel and the generic one (memcmp),
 * over the row counts and token counts given; y cells outside the product stay untouched. */
static void check_gemm(const tf_cpu_kernels *k, tinfer_dtype dtype, size_t single_offset,
                       uint32_t n_elems) {
    const tf_qdot_fn single = qdot_at(k, single_offset);
    const tf_qdot_fn reference = qdot_at(tf_cpu_kernels_generic(), single_offset);
    const tf_qgemm_fn gemm = tf_cpu_qgemm_of(k, single);
    if (!gemm) return;
    const tf_dtype_traits *traits = tf_dtype_traits_of((uint32_t)dtype);
    const size_t row_bytes = traits->block_bytes * (n_elems / traits->block_elems);
    const size_t act_stride = tf_cpu_act_row_bytes(tf_cpu_act_quant_of(dtype), n_elems) + 36;
    static uint8_t w[GEMM_ROWS * MAX_ROW_BYTES],
        act[GEMM_TOKENS * (MAX_ELEMS / TF_QK_K * sizeof(tf_q8_k_act) + 36)];
    assert_true(act_stride * GEMM_TOKENS <= sizeof act);
    static float want[GEMM_TOKENS][GEMM_ROWS], y[GEMM_TOKENS * GEMM_Y_STRIDE];
    uint32_t rng = 12345u + n_elems + (uint32_t)dtype;
    gemm_inputs(dtype, n_elems, w, row_bytes, act, act_stride, &rng);
    for (uint32_t t = 0; t < GEMM_TOKENS; t++)
        for (uint32_t r = 0; r < GEMM_ROWS; r++) {
            want[t][r] = single(w + r * row_bytes, act + t * act_stride, n_elems);
            assert_same_bits(reference(w + r * row_bytes, act + t * act_stride, n_elems),
                             want[t][r], "single row", k->name);
        }
    void *scratch = aligned_alloc(64, (tf_qgemm_scratch_bytes(n_elems) + 63) / 64 * 64);
    assert_non_null(scratch);
    /* The Q5_0, Q8_0 and Q4_K tiles also from packed rows (cpu_packed.c's layout), for whole
     * tiles; the file's rows are then garbled, so that only the packed ones give the right bits. */
    static uint8_t packed[GEMM_ROWS * MAX_ROW_BYTES], garbled[GEMM_ROWS * MAX_ROW_BYTES];
    const bool packs = tf_cpu_packs_dtype(k->packs, dtype);
    if (packs) {
        tf_cpu_pack_tiles(k->packs, dtype, w, row_bytes, n_elems / traits->block_elems,
                          GEMM_ROWS / TF_QGEMM_ROWS, packed);
        for (size_t i = 0; i < sizeof garbled; i++) garbled[i] = (uint8_t)(i * 37 + 11);
        /* and every row reads back as the file's bytes (the embedding's path) */
        const tf_matrix m = {.data = w,
                             .dtype = dtype,
                             .n_rows = GEMM_ROWS,
                             .row_elems = n_elems,
                             .row_bytes = row_bytes};
        uint8_t row[MAX_ROW_BYTES];
        for (uint32_t r = 0; r < GEMM_ROWS; r++) {
            tf_cpu_packed_row(k->packs, packed, &m, r, row);
            assert_memory_equal(row, w + r * row_bytes, row_bytes);
        }
    }
    static const uint32_t row_counts[] = {16, 17, 31, 48, 16, 48};
    enum { FIRST_PACKED = 4 };
    for (size_t i = 0; i < sizeof row_counts / sizeof row_counts[0]; i++)
        for (uint32_t n_tokens = 1; n_tokens <= GEMM_TOKENS; n_tokens++) {
            const bool from_packed = i >= FIRST_PACKED;
            if (from_packed && !packs) break;
            call_gemm(gemm, from_packed ? garbled : w, from_packed ? packed : NULL, row_bytes,
                      row_counts[i], act, act_stride, n_tokens, n_elems, y, scratch);
            for (uint32_t t = 0; t < GEMM_TOKENS; t++)
                for (uint32_t r = 0; r < GEMM_Y_STRIDE; r++) {
                    const float got = y[t * GEMM_Y_STRIDE + r];
                    const bool inside = t < n_tokens && r < row_counts[i];
                    const float expect = inside ? want[t][r] : (float)GEMM_SENTINEL;
                    if (memcmp(&got, &expect, sizeof got) != 0)
                        fail_msg("%s %s gemm%s, %u elements, %u rows × %u tokens: (row %u, "
                                 "token %u) %.9g, single-row %.9g",
                                 k->name, tf_dtype_traits_of((uint32_t)dtype)->name,
                                 from_packed ? " (packed)" : "", n_elems, row_counts[i], n_tokens,
                                 r, t, got, expect);
                }
        }
    free(scratch);
}

/* The fast orders (TINFER_HEAD_SUM_FAST for Q8_0 heads, TINFER_PROMPT_SUM_FAST for Q5_0 and
 * Q8_0 prompts) written plainly: per block the exact integer dot, then acc = fma(isum, d_w·d_x,
 * acc) in block order. */
static int32_t block_isum(tinfer_dtype dtype, const uint8_t *row, const tf_q8_0_act *x,
                          uint32_t b) {
    int32_t isum = 0;
    if (dtype == TINFER_DTYPE_Q8_0) {
        const tf_block_q8_0 *w = (const tf_block_q8_0 *)row + b;
        for (int i = 0; i < TF_QK8_0; i++) isum += (int32_t)w->qs[i] * x[b].qs[i];
        return isum;
    }
    const tf_block_q5_0 *w = (const tf_block_q5_0 *)row + b;
    uint32_t qh;
    memcpy(&qh, w->qh, sizeof qh);
    for (int i = 0; i < TF_QK5_0 / 2; i++) { /* ggml's layout: low nibbles first, bit i of qh */
        const int lo = (w->qs[i] & 0x0F) | (int)((qh >> i) & 1) << 4;
        const int hi = (w->qs[i] >> 4) | (int)((qh >> (i + 16)) & 1) << 4;
        isum += (lo - 16) * x[b].qs[i] + (hi - 16) * x[b].qs[i + 16];
    }
    return isum;
}

static float fast_reference(tinfer_dtype dtype, const uint8_t *row, const uint8_t *act,
                            uint32_t n_elems) {
    const tf_q8_0_act *x = (const tf_q8_0_act *)act;
    float acc = 0.0f;
    for (uint32_t b = 0; b < n_elems / 32; b++) {
        const uint16_t d_w = dtype == TINFER_DTYPE_Q8_0 ? ((const tf_block_q8_0 *)row)[b].d
                                                        : ((const tf_block_q5_0 *)row)[b].d;
        acc = fmaf((float)block_isum(dtype, row, x, b), tf_f16_to_f32(d_w) * x[b].d, acc);
    }
    return acc;
}

/* A fast-order row tile (q8_0_gemm_fast, q5_0_gemm_fast): the reference's bits for every (row,
 * token), any token count, the extreme codes and activations of gemm_inputs included; rows the
 * call does not cover and padding between output rows untouched. Over packed rows (whole tiles)
 * where the table packs the dtype, else over the file's rows in ragged counts too. */
static void check_gemm_fast(const tf_cpu_kernels *k, tinfer_dtype dtype, uint32_t n_elems) {
    const tf_qgemm_fn gemm = dtype == TINFER_DTYPE_Q8_0 ? k->q8_0_gemm_fast : k->q5_0_gemm_fast;
    if (!gemm) return;
    const bool file_rows = dtype == TINFER_DTYPE_Q8_0 && !tf_cpu_packs_dtype(k->packs, dtype);
    const tf_dtype_traits *traits = tf_dtype_traits_of((uint32_t)dtype);
    const size_t row_bytes = n_elems / traits->block_elems * traits->block_bytes;
    const size_t act_stride = tf_cpu_act_row_bytes(TF_ACT_Q8_0, n_elems) + 36;
    static uint8_t w[GEMM_ROWS * MAX_ROW_BYTES], packed[GEMM_ROWS * MAX_ROW_BYTES],
        act[GEMM_TOKENS * (MAX_ELEMS / TF_QK_K * sizeof(tf_q8_k_act) + 36)];
    static float y[GEMM_TOKENS * GEMM_Y_STRIDE];
    uint32_t rng = 777u + n_elems;
    gemm_inputs(dtype, n_elems, w, row_bytes, act, act_stride, &rng);
    if (!file_rows)
        tf_cpu_pack_tiles(k->packs, dtype, w, row_bytes, n_elems / 32, GEMM_ROWS / TF_QGEMM_ROWS,
                          packed);
    void *scratch = aligned_alloc(64, (tf_qgemm_scratch_bytes(n_elems) + 63) / 64 * 64);
    assert_non_null(scratch);
    static const uint32_t ragged[] = {GEMM_ROWS, 17, 5, 31};
    for (size_t i = 0; i < (file_rows ? sizeof ragged / sizeof ragged[0] : 1); i++)
        for (uint32_t n_tokens = 1; n_tokens <= GEMM_TOKENS; n_tokens++) {
            call_gemm(gemm, w, file_rows ? NULL : packed, row_bytes, ragged[i], act, act_stride,
                      n_tokens, n_elems, y, scratch);
            for (uint32_t t = 0; t < GEMM_TOKENS; t++)
                for (uint32_t r = 0; r < GEMM_Y_STRIDE; r++) {
                    const bool inside = t < n_tokens && r < ragged[i];
                    const float want = inside ? fast_reference(dtype, w + r * row_bytes,
                                                               act + t * act_stride, n_elems)
                                              : (float)GEMM_SENTINEL;
                    assert_same_bits(
                        want, y[t * GEMM_Y_STRIDE + r],
                        dtype == TINFER_DTYPE_Q8_0 ? "q8_0_gemm_fast" : "q5_0_gemm_fast", k->name);
                }
        }
    free(scratch);
}

/* Every table's row-tile products (where it has them) are the bits of its single-row kernels. */
static void qgemms(void **state) {
    (void)state;
    const tf_cpu_kernels *tables[3] = {tf_cpu_kernels_generic(), tf_cpu_kernels_x86_v3(),
                                       tf_cpu_kernels_avx512()};
    static const uint32_t lengths[] = {640, 2048, 96}, k_lengths[] = {256, 1024, 2048};
    for (int k = 0; k < 3; k++)
        for (size_t l = 0; tables[k] && l < sizeof lengths / sizeof lengths[0]; l++) {
            check_gemm(tables[k], TINFER_DTYPE_Q5_0, offsetof(tf_cpu_kernels, q5_0), lengths[l]);
            check_gemm(tables[k], TINFER_DTYPE_Q8_0, offsetof(tf_cpu_kernels, q8_0), lengths[l]);
            check_gemm(tables[k], TINFER_DTYPE_Q4_K, offsetof(tf_cpu_kernels, q4_k_rows4),
                       k_lengths[l]);
            check_gemm(tables[k], TINFER_DTYPE_Q4_K, offsetof(tf_cpu_kernels, q4_k_rows),
                       k_lengths[l]);
            check_gemm(tables[k], TINFER_DTYPE_Q6_K, offsetof(tf_cpu_kernels, q6_k_tiled),
                       k_lengths[l]);
            check_gemm_fast(tables[k], TINFER_DTYPE_Q8_0, lengths[l]);
            check_gemm_fast(tables[k], TINFER_DTYPE_Q5_0, lengths[l]);
        }
    if (tf_cpu_kernels_x86_v3()) { /* Q5_0 packed in a layout of its own, Q4_K in the avx512 one */
        assert_int_equal(tf_cpu_kernels_x86_v3()->packs, TF_PACKS_Q5_0_AVX2 | TF_PACKS_Q4_K);
        assert_non_null(tf_cpu_kernels_x86_v3()->q5_0_gemm_fast);
        assert_non_null(tf_cpu_kernels_x86_v3()->q8_0_gemm_fast);
    }
    if (tf_cpu_kernels_avx512()) { /* where it runs, the avx512 table has them all */
        assert_true(tf_cpu_kernels_read_packed(tf_cpu_kernels_avx512()));
        assert_non_null(tf_cpu_kernels_avx512()->q8_0_gemm_fast);
        assert_non_null(tf_cpu_kernels_avx512()->q5_0_gemm);
        assert_non_null(tf_cpu_kernels_avx512()->q8_0_gemm);
        assert_non_null(tf_cpu_kernels_avx512()->q4_k_rows4_gemm);
        assert_non_null(tf_cpu_kernels_avx512()->q4_k_rows_gemm);
        assert_non_null(tf_cpu_kernels_avx512()->q6_k_tiled_gemm);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cpu_features_match_proc_cpuinfo),
        cmocka_unit_test(x86_v3_table_present_where_supported),
        cmocka_unit_test(avx512_table_present_where_supported),
        cmocka_unit_test(tinfer_cpu_selects_the_path),
        cmocka_unit_test(q4_0_dots),
        cmocka_unit_test(q5_0_dots),
        cmocka_unit_test(q8_0_dots),
        cmocka_unit_test(q4_k_dots),
        cmocka_unit_test(q5_k_dots),
        cmocka_unit_test(q6_k_dots),
        cmocka_unit_test(k_quant_x4_extremes),
        cmocka_unit_test(float_dots),
        cmocka_unit_test(softmax_reductions),
        cmocka_unit_test(axpy),
        cmocka_unit_test(f16_to_f32),
        cmocka_unit_test(f32_to_f16),
        cmocka_unit_test(expf_n),
        cmocka_unit_test(gelu_table_mul),
        cmocka_unit_test(rope_neox),
        cmocka_unit_test(qgemms),
        cmocka_unit_test(attention_kernels),
        cmocka_unit_test(q8_attention_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
