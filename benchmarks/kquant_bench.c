/* tinfer-kquant-bench: the four-token k-quant dots of each CPU kernel table (and the single-token
 * ones of decode) over one matrix
 * (default 640 rows × 2048 elements, the default model's ffn_down) and 32 activation rows, in the
 * order cpu_matmul.c calls them (per weight row, the tokens four at a time). One thread; prints
 * the best of the repetitions as ns per (row, token) and ms per pass over the matrix.
 *
 * Usage: tinfer-kquant-bench [rows] [elems] [reps] [tokens (4..32, a multiple of 4)] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_qdot.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

enum { MAX_TOKENS = 32 };

static uint32_t rng_state = 12345;
static uint32_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct entry {
    const char *name;
    size_t offset;
    int q6;     /* 1: Q6_K weights, 0: Q4_K */
    int single; /* a tf_qdot_fn, called per token */
} entry;

int main(int argc, char **argv) {
    const uint32_t rows = argc > 1 ? (uint32_t)atoi(argv[1]) : 640;
    const uint32_t elems = argc > 2 ? (uint32_t)atoi(argv[2]) : 2048;
    const int reps = argc > 3 ? atoi(argv[3]) : 20;
    const int n_tokens = argc > 4 ? atoi(argv[4]) : MAX_TOKENS;
    if (n_tokens < 4 || n_tokens > MAX_TOKENS || n_tokens % 4 != 0) return 1;
    const uint32_t n_blocks = elems / TF_QK_K;
    if (rows == 0 || n_blocks == 0 || reps <= 0) return 1;
    const size_t q4_row = n_blocks * sizeof(tf_block_q4_k),
                 q6_row = n_blocks * sizeof(tf_block_q6_k);
    uint8_t *q4 = malloc(rows * q4_row), *q6 = malloc(rows * q6_row);
    const size_t act_bytes = tf_cpu_act_row_bytes(TF_ACT_Q8_K, elems);
    uint8_t *act = malloc(MAX_TOKENS * act_bytes);
    float *x = malloc(elems * sizeof *x), *y = malloc((size_t)rows * MAX_TOKENS * sizeof *y);
    if (!q4 || !q6 || !act || !x || !y) return 1;
    for (size_t i = 0; i < rows * q4_row; i++) q4[i] = (uint8_t)next_random();
    for (size_t i = 0; i < rows * q6_row; i++) q6[i] = (uint8_t)next_random();
    for (size_t b = 0; b < (size_t)rows * n_blocks; b++) {
        tf_block_q4_k *w4 = (tf_block_q4_k *)q4 + b;
        w4->d = tf_f32_to_f16(0.01f);
        w4->dmin = tf_f32_to_f16(0.002f);
        ((tf_block_q6_k *)q6)[b].d = tf_f32_to_f16(0.01f);
    }
    for (int t = 0; t < MAX_TOKENS; t++) {
        for (uint32_t i = 0; i < elems; i++)
            x[i] = (float)((int)(next_random() % 2001) - 1000) / 300.0f;
        tf_cpu_quantize_act(TF_ACT_Q8_K, x, elems, act + t * act_bytes);
    }
    const entry entries[] = {
        {"q4_k_rows4_x4 (prefill)", offsetof(tf_cpu_kernels, q4_k_rows4_x4), 0, 0},
        {"q4_k_rows_x4 (batched decode)", offsetof(tf_cpu_kernels, q4_k_rows_x4), 0, 0},
        {"q6_k_tiled_x4 (prefill)", offsetof(tf_cpu_kernels, q6_k_tiled_x4), 1, 0},
        {"q6_k_x4 (batched decode)", offsetof(tf_cpu_kernels, q6_k_x4), 1, 0},
        {"q4_k_rows (decode)", offsetof(tf_cpu_kernels, q4_k_rows), 0, 1},
        {"q6_k (decode)", offsetof(tf_cpu_kernels, q6_k), 1, 1},
    };
    const tf_cpu_kernels *tables[] = {tf_cpu_kernels_generic(), tf_cpu_kernels_x86_v3(),
                                      tf_cpu_kernels_avx512()};
    printf("%u rows x %u elements, %d tokens, best of %d\n", rows, elems, n_tokens, reps);
    for (size_t k = 0; k < sizeof tables / sizeof tables[0]; k++) {
        const tf_cpu_kernels *table = tables[k];
        if (!table) continue;
        for (size_t e = 0; e < sizeof entries / sizeof entries[0]; e++) {
            tf_qdot4_fn four;
            tf_qdot_fn one;
            memcpy(&four, (const char *)table + entries[e].offset, sizeof four);
            memcpy(&one, (const char *)table + entries[e].offset, sizeof one);
            if (!four) continue;
            const uint8_t *w = entries[e].q6 ? q6 : q4;
            const size_t row_bytes = entries[e].q6 ? q6_row : q4_row;
            const int table_reps = k == 0 ? 2 : reps;
            double best = 1e30;
            for (int r = 0; r < table_reps; r++) {
                const double t0 = now_s();
                for (uint32_t row = 0; row < rows; row++)
                    for (int t = 0; t < n_tokens; t += 4) {
                        const void *xs[4] = {act + t * act_bytes, act + (t + 1) * act_bytes,
                                             act + (t + 2) * act_bytes, act + (t + 3) * act_bytes};
                        const uint8_t *w_row = w + row * row_bytes;
                        float *out = y + (size_t)row * n_tokens + t;
                        if (!entries[e].single) {
                            four(w_row, xs, elems, out);
                            continue;
                        }
                        for (int i = 0; i < 4; i++) out[i] = one(w_row, xs[i], elems);
                    }
                const double dt = now_s() - t0;
                if (dt < best) best = dt;
            }
            double check = 0;
            for (size_t i = 0; i < (size_t)rows * n_tokens; i++) check += y[i];
            printf("%-10s %-30s %7.2f ns/(row,token) %6.2f ms  (checksum %.6g)\n", table->name,
                   entries[e].name, 1e9 * best / ((double)rows * n_tokens), 1e3 * best, check);
        }
    }
    free(q4);
    free(q6);
    free(act);
    free(x);
    free(y);
    return 0;
}
