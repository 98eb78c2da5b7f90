/* The integer dot-product kernels (lib/backend/cpu/cpu_kernels_impl.h) against the scalar
 * reference: for every weight dtype with a kernel, and every float order the table has for it
 * (vec_dot lanes, repacked rows, tiled), random blocks dotted with quantized activations must equal
 * (dequantized weights) · (dequantized activations) computed in double, up to float32 rounding;
 * the generic and x86-64-v3 builds of each kernel must agree bit for bit. Also: activation
 * quantization stays within half a step of the input, and equals ggml's scalar quantizers
 * (written out here) byte for byte, on hostile values too. (Bit-exactness against llama.cpp itself
 * is tested on the whole model: test_forward_golden.c.) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_qdot.h"
#include "quant/blocks.h"
#include "quant/dequant.h"
#include "quant/dtype.h"
#include "quant/fp16.h"
#include "tinfer/tinfer.h"

enum { N_ELEMS = 512, MAX_ROW_BYTES = 2048 };

static uint32_t next_random(uint32_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static float random_float(uint32_t *state) {
    return (float)(next_random(state) % 20001) / 10000.0f - 1.0f;
}

/* Random bytes, with the block scales replaced by sane float16 values (random bits could be
 * NaN or infinity). */
static void random_row(tinfer_dtype dtype, uint8_t *row, size_t n_bytes, uint32_t *rng) {
    for (size_t i = 0; i < n_bytes; i++) row[i] = (uint8_t)next_random(rng);
    const tf_dtype_traits *traits = tf_dtype_traits_of((uint32_t)dtype);
    for (size_t b = 0; b < n_bytes / traits->block_bytes; b++) {
        void *block = row + b * traits->block_bytes;
        const float d = 0.001f + 0.01f * (random_float(rng) + 1.0f);
        const uint16_t d_bits = tf_f32_to_f16(d), half_d_bits = tf_f32_to_f16(0.5f * d);
        switch (dtype) {
        case TINFER_DTYPE_Q4_0:
            ((tf_block_q4_0 *)block)->d = d_bits;
            break;
        case TINFER_DTYPE_Q5_0:
            ((tf_block_q5_0 *)block)->d = d_bits;
            break;
        case TINFER_DTYPE_Q8_0:
            ((tf_block_q8_0 *)block)->d = d_bits;
            break;
        case TINFER_DTYPE_Q4_K:
            ((tf_block_q4_k *)block)->d = d_bits;
            ((tf_block_q4_k *)block)->dmin = half_d_bits;
            break;
        case TINFER_DTYPE_Q5_K:
            ((tf_block_q5_k *)block)->d = d_bits;
            ((tf_block_q5_k *)block)->dmin = half_d_bits;
            break;
        case TINFER_DTYPE_Q6_K:
            ((tf_block_q6_k *)block)->d = d_bits;
            break;
        default:
            fail_msg("no random blocks for %s", traits->name);
        }
    }
}

/* The activations the kernel sees, back in float32: d · q per element. */
static void dequantize_act(tf_act_quant kind, const void *quantized, float *out) {
    if (kind == TF_ACT_Q8_0) {
        const tf_q8_0_act *blocks = quantized;
        for (size_t i = 0; i < N_ELEMS; i++) out[i] = blocks[i / 32].d * blocks[i / 32].qs[i % 32];
    } else {
        const tf_q8_k_act *blocks = quantized;
        for (size_t i = 0; i < N_ELEMS; i++)
            out[i] = blocks[i / 256].d * blocks[i / 256].qs[i % 256];
    }
}

/* The (n_rows, n_tokens, t) shapes that select each float order of a dtype (tf_cpu_qdot_of). */
static const struct {
    uint32_t n_rows;
    size_t n_tokens, t;
} SHAPES[] = {{8, 1, 0}, {8, 4, 0}, {6, 1, 0}, {6, 8, 0}};

static void check_kernel(tinfer_dtype dtype, tf_qdot_fn dot, tf_qdot_fn other_build,
                         const tf_qdot4_fn fours[2], uint32_t seed) {
    uint32_t rng = seed;
    const tf_dtype_traits *traits = tf_dtype_traits_of((uint32_t)dtype);
    const size_t row_bytes = N_ELEMS / traits->block_elems * traits->block_bytes;
    uint8_t row[MAX_ROW_BYTES];
    assert_true(row_bytes <= sizeof row);
    random_row(dtype, row, row_bytes, &rng);
    float x[N_ELEMS], weights[N_ELEMS], x_seen[N_ELEMS];
    for (size_t i = 0; i < N_ELEMS; i++) x[i] = 3.0f * random_float(&rng);
    const tf_act_quant kind = tf_cpu_act_quant_of(dtype);
    assert_true(kind != TF_ACT_NONE && dot != NULL);
    _Alignas(16) uint8_t quantized[2 * N_ELEMS];
    assert_true(tf_cpu_act_row_bytes(kind, N_ELEMS) <= sizeof quantized);
    tf_cpu_quantize_act(kind, x, N_ELEMS, quantized);
    dequantize_act(kind, quantized, x_seen);
    assert_int_equal(tf_dequantize_row(dtype, row, weights, N_ELEMS), TINFER_OK);

    double expected = 0, magnitude = 0;
    for (size_t i = 0; i < N_ELEMS; i++) {
        expected += (double)weights[i] * x_seen[i];
        magnitude += fabs((double)weights[i] * x_seen[i]);
        /* Quantization error: half a step, plus the float16 rounding of the Q8_0 scale. */
        const size_t block = kind == TF_ACT_Q8_0 ? 32 : 256;
        float amax = 0;
        for (size_t j = i / block * block; j < (i / block + 1) * block; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        assert_true(fabsf(x[i] - x_seen[i]) <= amax / 127.0f * 0.51f + amax * 1e-3f);
    }
    const float got = dot(row, quantized, N_ELEMS);
    if (fabs(got - expected) > 1e-5 * magnitude + 1e-6)
        fail_msg("%s: kernel %.9g, reference %.9g (magnitude %.3g)", traits->name, got, expected,
                 magnitude);
    if (other_build) {
        const float again = other_build(row, quantized, N_ELEMS);
        if (memcmp(&got, &again, sizeof got) != 0)
            fail_msg("%s: generic build %.9g, x86-64-v3 build %.9g", traits->name, got, again);
    }
    /* The four-row kernels, where a build has them: row t equals the single-row kernel on it. */
    _Alignas(16) uint8_t rows4[4][2 * N_ELEMS];
    float single[4], xt[N_ELEMS];
    const void *xs[4];
    for (int t = 0; t < 4; t++) {
        for (size_t i = 0; i < N_ELEMS; i++)
            xt[i] = x[(i + 37 * (size_t)t) % N_ELEMS] * (float)(t + 1);
        tf_cpu_quantize_act(kind, xt, N_ELEMS, rows4[t]);
        xs[t] = rows4[t];
        single[t] = dot(row, rows4[t], N_ELEMS);
    }
    for (int k = 0; k < 2; k++) {
        if (!fours[k]) continue;
        float four[4];
        fours[k](row, xs, N_ELEMS, four);
        assert_memory_equal(four, single, sizeof four);
    }
}

static void check_dtype(tinfer_dtype dtype, uint32_t seed) {
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic(), *fast = tf_cpu_kernels_x86_v3();
    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
        const tf_qdot_fn dot =
            tf_cpu_qdot_of(generic, dtype, SHAPES[s].n_rows, SHAPES[s].n_tokens, SHAPES[s].t);
        const tf_qdot_fn other =
            fast ? tf_cpu_qdot_of(fast, dtype, SHAPES[s].n_rows, SHAPES[s].n_tokens, SHAPES[s].t)
                 : NULL;
        const tf_qdot4_fn fours[2] = {tf_cpu_qdot4_of(generic, dot),
                                      other ? tf_cpu_qdot4_of(fast, other) : NULL};
        check_kernel(dtype, dot, other, fours, seed);
    }
}

static void integer_dots_equal_the_reference(void **state) {
    (void)state;
    const tinfer_dtype dtypes[] = {TINFER_DTYPE_Q4_0, TINFER_DTYPE_Q5_0, TINFER_DTYPE_Q8_0,
                                   TINFER_DTYPE_Q4_K, TINFER_DTYPE_Q5_K, TINFER_DTYPE_Q6_K};
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++)
        for (uint32_t seed = 1; seed <= 20; seed++) check_dtype(dtypes[d], seed * 2654435761u);
}

static void other_dtypes_have_no_integer_kernel(void **state) {
    (void)state;
    const tinfer_dtype dtypes[] = {TINFER_DTYPE_F32,  TINFER_DTYPE_F16,  TINFER_DTYPE_BF16,
                                   TINFER_DTYPE_Q4_1, TINFER_DTYPE_Q5_1, TINFER_DTYPE_Q2_K};
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
        assert_int_equal(tf_cpu_act_quant_of(dtypes[d]), TF_ACT_NONE);
        assert_null(tf_cpu_qdot_of(tf_cpu_kernels_generic(), dtypes[d], 8, 1, 0));
    }
}

/* The float kernels of the attention: each build equals the other bit for bit, and both equal the
 * exact dot within float rounding; ggml_v_expf's emulation stays within 2 ulp-ish of exp. */
static void float_kernels_agree(void **state) {
    (void)state;
    const tf_cpu_kernels *generic = tf_cpu_kernels_generic(), *fast = tf_cpu_kernels_x86_v3();
    uint32_t rng = 12345;
    float a[300], b[300];
    for (int i = 0; i < 300; i++) {
        a[i] = random_float(&rng);
        b[i] = random_float(&rng);
    }
    double exact = 0, magnitude = 0;
    for (int i = 0; i < 296; i++) {
        exact += (double)a[i] * b[i];
        magnitude += fabs((double)a[i] * b[i]);
    }
    const float vecdot = generic->dot_vecdot(a, b, 296), tiled = generic->dot_tiled(a, b, 296);
    assert_true(fabs(vecdot - exact) <= 1e-6 * magnitude);
    assert_true(fabs(tiled - exact) <= 1e-6 * magnitude);
    assert_true(fabs(generic->dot_vecdot_f32(a, b, 296) - exact) <= 1e-6 * magnitude);
    float x[64], e_generic[64], e_fast[64];
    for (int i = 0; i < 64; i++) x[i] = -20.0f * (float)i / 63.0f;
    x[63] = -INFINITY;
    generic->expf_n(x, e_generic, 64);
    for (int i = 0; i < 63; i++) assert_true(fabs(e_generic[i] - exp(x[i])) <= 4e-7 * exp(x[i]));
    assert_true(e_generic[63] == 0.0f);
    if (!fast) return;
    assert_true(memcmp(&vecdot, &(float){fast->dot_vecdot(a, b, 296)}, sizeof vecdot) == 0);
    assert_true(memcmp(&tiled, &(float){fast->dot_tiled(a, b, 296)}, sizeof tiled) == 0);
    for (size_t n = 280; n <= 300; n++) { /* every tail shape of the F32 order: 8s, 4, 0-3 */
        const float f32_generic = generic->dot_vecdot_f32(a, b, n);
        assert_true(
            memcmp(&f32_generic, &(float){fast->dot_vecdot_f32(a, b, n)}, sizeof f32_generic) == 0);
    }
    fast->expf_n(x, e_fast, 64);
    assert_memory_equal(e_generic, e_fast, sizeof e_generic);
    float acc_generic[300] = {0}, acc_fast[300] = {0};
    for (int r = 0; r < 5; r++) {
        generic->axpy(acc_generic, a, b[r], 299);
        fast->axpy(acc_fast, a, b[r], 299);
    }
    assert_memory_equal(acc_generic, acc_fast, sizeof acc_generic);
    uint16_t half[300];
    for (int i = 0; i < 300; i++) half[i] = (uint16_t)next_random(&rng);
    half[0] = 0x7C00; /* +inf */
    half[1] = 0x0001; /* the smallest subnormal */
    float wide_generic[300], wide_fast[300];
    generic->f16_to_f32(half, wide_generic, 300);
    fast->f16_to_f32(half, wide_fast, 300);
    for (int i = 0; i < 300; i++)
        if (!isnan(wide_generic[i])) assert_true(wide_generic[i] == wide_fast[i]);
}

/* ggml's quantize_row_q8_0 (the reference C: amax, d = amax/127, nearest-even codes; NaN as 0
 * and the ends clamped, as cpu_qdot.c defines hostile input) and quantize_row_q8_K_ref. */
static int8_t ref_round(float v) {
    if (!(v == v)) return 0;
    if (v >= 127.0f) return 127;
    if (v <= -128.0f) return -128;
    return (int8_t)nearbyintf(v);
}

static void ref_q8_0(const float *x, tf_q8_0_act *y) {
    float amax = 0;
    for (int j = 0; j < TF_QK8_0; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y->d = tf_f16_to_f32(tf_f32_to_f16(amax / 127.0f));
    for (int j = 0; j < TF_QK8_0; j++) y->qs[j] = ref_round(x[j] * id);
}

static void ref_q8_k(const float *x, tf_q8_k_act *y) {
    float amax = 0, max = 0;
    for (int j = 0; j < TF_QK_K; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    memset(y, 0, sizeof *y);
    if (amax == 0) return;
    const float iscale = -127.0f / max;
    for (int j = 0; j < TF_QK_K; j++) y->qs[j] = ref_round(iscale * x[j]);
    for (int g = 0; g < TF_QK_K / 16; g++) {
        int sum = 0;
        for (int j = 0; j < 16; j++) sum += y->qs[16 * g + j];
        y->bsums[g] = (int16_t)sum;
    }
    y->d = 1.0f / iscale;
}

static void activation_quantization_equals_ggml(void **state) {
    (void)state;
    uint32_t seed = 99;
    static float x[N_ELEMS];
    static tf_q8_0_act got0[N_ELEMS / TF_QK8_0], want0[N_ELEMS / TF_QK8_0];
    static tf_q8_k_act got_k[N_ELEMS / TF_QK_K], want_k[N_ELEMS / TF_QK_K];
    for (int round = 0; round < 200; round++) {
        const float scale = round % 3 == 0 ? 1e-30f : round % 3 == 1 ? 1.0f : 1e30f;
        for (int i = 0; i < N_ELEMS; i++) {
            x[i] = ((float)(next_random(&seed) % 20001) - 10000.0f) / 100.0f * scale;
            if (round % 4 == 0 && i % 9 == 0)
                x[i] = (float)((int)(next_random(&seed) % 255) - 127) + 0.5f;
        }
        if (round % 5 == 1) x[next_random(&seed) % N_ELEMS] = NAN;
        if (round % 5 == 2) x[next_random(&seed) % N_ELEMS] = -INFINITY;
        if (round % 5 == 3) /* a tie of magnitudes: the first one's sign counts for Q8_K */
            for (int i = 0; i < N_ELEMS; i++) x[i] = i % 2 ? 3.0f : -3.0f;
        if (round % 7 == 6) memset(x, 0, sizeof x);
        memset(got0, 0x55, sizeof got0);
        tf_cpu_quantize_act(TF_ACT_Q8_0, x, N_ELEMS, got0);
        for (int b = 0; b < N_ELEMS / TF_QK8_0; b++) ref_q8_0(x + b * TF_QK8_0, &want0[b]);
        assert_memory_equal(got0, want0, sizeof got0);
        memset(got_k, 0x55, sizeof got_k);
        tf_cpu_quantize_act(TF_ACT_Q8_K, x, N_ELEMS, got_k);
        for (int b = 0; b < N_ELEMS / TF_QK_K; b++) ref_q8_k(x + b * TF_QK_K, &want_k[b]);
        assert_memory_equal(got_k, want_k, sizeof got_k);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(integer_dots_equal_the_reference),
        cmocka_unit_test(float_kernels_agree),
        cmocka_unit_test(other_dtypes_have_no_integer_kernel),
        cmocka_unit_test(activation_quantization_equals_ggml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
