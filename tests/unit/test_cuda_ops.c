/* The CUDA backend's row-wise and element-wise kernels (backend/cuda/cuda_elementwise.cu)
 * against double-precision references: RMSNorm, RoPE (both pair layouts, Llama 3 divisors,
 * linear scaling), SiLU and GELU-tanh gating, add, bias, scale, soft-capping (within stated
 * bounds), and the embedding and output-row gathers (exactly: they only decode and copy). Skips,
 * saying why, in a build without CUDA or on a machine without a GPU (this one); runs in
 * scripts/device/check.sh's ctest on a machine with one. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quant/dequant.h"
#include "quant/fp16.h"

#if TINFER_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_device.h"
#include "backend/cuda/cuda_kernels.h"
#include "cuda_test_rows.h"

static float *random_floats(size_t n, float scale, uint64_t *seed) {
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = scale * (float)((int)(next_random(seed) % 20001) - 10000) / 10000.0f;
    return x;
}

static void from_device(void *host, const void *device, size_t bytes) {
    assert_int_equal(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
}

static void assert_close(double want, double got, double bound, const char *what, size_t i) {
    if (!(fabs(got - want) <= bound))
        fail_msg("%s[%zu]: %.9g, reference %.9g (bound %.3g)", what, i, got, want, bound);
}

static void skip_without_device(void) {
    if (tf_cuda_device_count() == 0) {
        fprintf(stderr, "test_cuda_ops: no CUDA device on this machine: skipped\n");
        skip();
    }
}

static void rmsnorm(void **state) {
    (void)state;
    skip_without_device();
    enum { ROWS = 5, WIDTH = 640 };
    uint64_t seed = 7;
    float *x = random_floats(ROWS * WIDTH, 3.0f, &seed), *w = random_floats(WIDTH, 1.5f, &seed);
    float *out = malloc(sizeof(float) * ROWS * WIDTH);
    float *x_dev = to_device(x, sizeof(float) * ROWS * WIDTH),
          *w_dev = to_device(w, sizeof(float) * WIDTH);
    assert_int_equal(tfc_rmsnorm(x_dev, w_dev, 1e-6f, ROWS, WIDTH, x_dev, NULL), 0); /* in place */
    from_device(out, x_dev, sizeof(float) * ROWS * WIDTH);
    for (size_t r = 0; r < ROWS; r++) {
        double sum = 0;
        for (size_t i = 0; i < WIDTH; i++) sum += (double)x[r * WIDTH + i] * x[r * WIDTH + i];
        const double scale = 1.0 / sqrt(sum / WIDTH + 1e-6);
        for (size_t i = 0; i < WIDTH; i++) {
            const double want = x[r * WIDTH + i] * scale * w[i];
            assert_close(want, out[r * WIDTH + i], 1e-5 * fabs(want) + 1e-6, "rmsnorm",
                         r * WIDTH + i);
        }
    }
    cudaFree(x_dev);
    cudaFree(w_dev);
    free(out);
    free(w);
    free(x);
}

/* One layout of RoPE over tokens at positions up to 32,000: the reference forms the angle in
 * double; the kernel's float angle (CUDA's powf is within 4 ulps, then three roundings) is off by
 * up to about 8 ulps of pos·θ_i, hence a bound that grows with the position. */
static void check_rope(int neox, int with_factors, float freq_scale) {
    enum { TOKENS = 4, HEADS = 3, HEAD_DIM = 128, N_ROT = 128 };
    const int32_t positions[TOKENS] = {0, 1, 517, 32000};
    uint64_t seed = 11 + (uint64_t)neox * 2 + (uint64_t)with_factors;
    float *x = random_floats(TOKENS * HEADS * HEAD_DIM, 2.0f, &seed),
          *out = malloc(sizeof(float) * TOKENS * HEADS * HEAD_DIM);
    float factors[N_ROT / 2];
    for (size_t i = 0; i < N_ROT / 2; i++) factors[i] = 1.0f + (float)(i % 7);
    float *x_dev = to_device(x, sizeof(float) * TOKENS * HEADS * HEAD_DIM);
    int32_t *pos_dev = to_device(positions, sizeof positions);
    float *factors_dev = to_device(factors, sizeof factors);
    const tfc_rope_args rope = {.n_rot = N_ROT,
                                .freq_base = 500000.0f,
                                .neox = neox,
                                .freq_factors = with_factors ? factors_dev : NULL,
                                .freq_scale = freq_scale};
    assert_int_equal(tfc_rope(x_dev, pos_dev, TOKENS, HEADS, HEAD_DIM, &rope, NULL), 0);
    from_device(out, x_dev, sizeof(float) * TOKENS * HEADS * HEAD_DIM);
    for (size_t t = 0; t < TOKENS; t++)
        for (size_t h = 0; h < HEADS; h++)
            for (size_t i = 0; i < N_ROT / 2; i++) {
                double theta = positions[t] * pow(500000.0, -2.0 * (double)i / N_ROT);
                if (with_factors) theta /= factors[i];
                theta *= freq_scale;
                const size_t at = (t * HEADS + h) * HEAD_DIM;
                const size_t a = neox ? i : 2 * i, b = neox ? i + N_ROT / 2 : 2 * i + 1;
                const double x0 = x[at + a], x1 = x[at + b];
                const double bound = (fabs(x0) + fabs(x1)) * (8.0 * 0x1p-24 * (theta + 1.0) + 1e-6);
                assert_close(x0 * cos(theta) - x1 * sin(theta), out[at + a], bound, "rope", at + a);
                assert_close(x0 * sin(theta) + x1 * cos(theta), out[at + b], bound, "rope", at + b);
            }
    cudaFree(x_dev);
    cudaFree(pos_dev);
    cudaFree(factors_dev);
    free(out);
    free(x);
}

static void rope(void **state) {
    (void)state;
    skip_without_device();
    check_rope(1, 0, 1.0f);
    check_rope(0, 0, 1.0f);
    check_rope(1, 1, 1.0f);
    check_rope(1, 0, 0.25f);
}

static void gates_and_element_ops(void **state) {
    (void)state;
    skip_without_device();
    enum { N = 3000, WIDTH = 600 };
    uint64_t seed = 23;
    float *gate = random_floats(N, 8.0f, &seed), *up = random_floats(N, 2.0f, &seed);
    float *bias = random_floats(WIDTH, 1.0f, &seed), *out = malloc(sizeof(float) * N);
    for (int act = TFC_ACT_SILU; act <= TFC_ACT_GELU_TANH; act++) {
        float *g_dev = to_device(gate, sizeof(float) * N),
              *u_dev = to_device(up, sizeof(float) * N);
        assert_int_equal(tfc_ffn_gate(act, N, g_dev, u_dev, NULL), 0);
        from_device(out, g_dev, sizeof(float) * N);
        for (size_t i = 0; i < N; i++) {
            const double g = gate[i];
            const double a =
                act == TFC_ACT_SILU
                    ? g / (1.0 + exp(-g))
                    : 0.5 * g * (1.0 + tanh(sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g)));
            const double want = a * up[i];
            assert_close(want, out[i], 2e-6 * (fabs(g) + 1.0) * fabs(up[i]) + 1e-7,
                         act ? "gelu" : "silu", i);
        }
        cudaFree(g_dev);
        cudaFree(u_dev);
    }
    /* add, bias, scale: one float operation per element, so exactly the host's float result */
    float *y_dev = to_device(gate, sizeof(float) * N), *x_dev = to_device(up, sizeof(float) * N);
    float *b_dev = to_device(bias, sizeof(float) * WIDTH);
    assert_int_equal(tfc_add(N, y_dev, x_dev, NULL), 0);
    assert_int_equal(tfc_add_bias(N, WIDTH, y_dev, b_dev, NULL), 0);
    assert_int_equal(tfc_scale(N, y_dev, 0.375f, NULL), 0);
    from_device(out, y_dev, sizeof(float) * N);
    for (size_t i = 0; i < N; i++) {
        const float want = ((gate[i] + up[i]) + bias[i % WIDTH]) * 0.375f;
        assert_close(want, out[i], 0.0, "add/bias/scale", i);
    }
    assert_int_equal(tfc_softcap(N, y_dev, 30.0f, NULL), 0);
    float *capped = malloc(sizeof(float) * N);
    from_device(capped, y_dev, sizeof(float) * N);
    for (size_t i = 0; i < N; i++)
        assert_close(30.0 * tanh(out[i] / 30.0), capped[i], 30.0 * 2e-6, "softcap", i);
    cudaFree(y_dev);
    cudaFree(x_dev);
    cudaFree(b_dev);
    free(capped);
    free(out);
    free(bias);
    free(up);
    free(gate);
}

static void embed_and_gather(void **state) {
    (void)state;
    skip_without_device();
    enum { ROWS = 40, COLS = 512, TOKENS = 6 };
    static const int DTYPES[] = {TINFER_DTYPE_F32,  TINFER_DTYPE_F16,  TINFER_DTYPE_BF16,
                                 TINFER_DTYPE_Q5_0, TINFER_DTYPE_Q8_0, TINFER_DTYPE_Q4_K,
                                 TINFER_DTYPE_Q6_K};
    const int32_t tokens[TOKENS] = {0, 39, 7, 7, 20, 1};
    float *want = malloc(sizeof(float) * COLS), *got = malloc(sizeof(float) * TOKENS * COLS);
    for (size_t d = 0; d < sizeof DTYPES / sizeof DTYPES[0]; d++) {
        size_t row_bytes;
        uint8_t *w = random_rows(DTYPES[d], ROWS, COLS, &row_bytes, 31 + d);
        void *w_dev = to_device(w, row_bytes * ROWS), *t_dev = to_device(tokens, sizeof tokens);
        float *out_dev = NULL;
        assert_int_equal(cudaMalloc((void **)&out_dev, sizeof(float) * TOKENS * COLS), cudaSuccess);
        assert_int_equal(tfc_embed(DTYPES[d], w_dev, row_bytes, COLS, t_dev, TOKENS, out_dev, NULL),
                         0);
        from_device(got, out_dev, sizeof(float) * TOKENS * COLS);
        for (size_t t = 0; t < TOKENS; t++) {
            tf_dequant_fn_of((tinfer_dtype)DTYPES[d])(w + (size_t)tokens[t] * row_bytes, want,
                                                      COLS);
            assert_memory_equal(want, got + t * COLS, sizeof(float) * COLS);
        }
        /* the output rows 5, 0 and 2 of the embedded tokens */
        const uint32_t rows[3] = {5, 0, 2};
        uint32_t *rows_dev = to_device(rows, sizeof rows);
        float *gathered_dev = NULL, gathered[3 * COLS];
        assert_int_equal(cudaMalloc((void **)&gathered_dev, sizeof gathered), cudaSuccess);
        assert_int_equal(tfc_gather_rows(out_dev, COLS, rows_dev, 3, gathered_dev, NULL), 0);
        from_device(gathered, gathered_dev, sizeof gathered);
        for (size_t i = 0; i < 3; i++)
            assert_memory_equal(gathered + i * COLS, got + rows[i] * COLS, sizeof(float) * COLS);
        cudaFree(gathered_dev);
        cudaFree(rows_dev);
        cudaFree(out_dev);
        cudaFree(t_dev);
        cudaFree(w_dev);
        free(w);
    }
    free(got);
    free(want);
}
#else
static void skip_build(void **state) {
    (void)state;
    fprintf(stderr, "test_cuda_ops: built without CUDA: skipped\n");
    skip();
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
#if TINFER_HAVE_CUDA
        cmocka_unit_test(rmsnorm),
        cmocka_unit_test(rope),
        cmocka_unit_test(gates_and_element_ops),
        cmocka_unit_test(embed_and_gather),
#else
        cmocka_unit_test(skip_build),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
