/* tinfer_context_estimate and tinfer_context_get_info: an estimate equals what the context it
 * describes then reports, the KV bytes are the cache's real geometry (whole blocks of 32
 * positions per sequence, K and V rows of n_head_kv × head_dim, the sliding-window ring smaller),
 * and the estimate refuses what creation would refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "synthetic_model.h"
#include "tinfer/tinfer.h"

static tinfer_model *load(synth_spec spec, const char *name) {
    char path[512];
    assert_non_null(synth_write(&spec, name, path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    return model;
}

static tinfer_context_params params_of(uint32_t n_ctx, uint32_t n_seq_max, tinfer_kv_dtype kv) {
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    p.n_ctx = n_ctx;
    p.n_seq_max = n_seq_max;
    p.kv_dtype = kv;
    p.n_threads = 1;
    return p;
}

static void estimate_equals_the_created_context(void **state) {
    (void)state;
    synth_spec llama = synth_gemma3();
    llama.arch = "llama";
    llama.sliding_window = 0;
    tinfer_model *models[2] = {load(llama, "info_llama.gguf"),
                               load(synth_gemma3(), "info_gemma3.gguf")};
    const uint32_t n_ctx[] = {1, 64, 1000};
    for (int m = 0; m < 2; m++)
        for (int c = 0; c < 3; c++)
            for (uint32_t seqs = 1; seqs <= 3; seqs += 2)
                for (int kv = 0; kv < 3; kv++) {
                    tinfer_context_params p = params_of(n_ctx[c], seqs, (tinfer_kv_dtype)kv);
                    tinfer_context_info estimate, info;
                    assert_int_equal(tinfer_context_estimate(models[m], &p, sizeof p, &estimate,
                                                             sizeof estimate),
                                     TINFER_OK);
                    tinfer_context *ctx = NULL;
                    assert_int_equal(tinfer_context_create(models[m], &p, sizeof p, &ctx),
                                     TINFER_OK);
                    assert_int_equal(tinfer_context_get_info(ctx, &info, sizeof info), TINFER_OK);
                    assert_memory_equal(&estimate, &info, sizeof info);
                    assert_int_equal(info.n_ctx, n_ctx[c]);
                    assert_int_equal(info.n_seq_max, seqs);
                    assert_int_equal(info.n_batch, 512);
                    assert_int_equal(info.n_threads, 1);
                    assert_true(info.scratch_bytes >= (uint64_t)seqs * 96 * sizeof(float));
                    if (m == 0) { /* no sliding window: every layer holds whole blocks */
                        const uint64_t blocks = (n_ctx[c] + 31) / 32 * (uint64_t)seqs;
                        const uint64_t elems = 2ull * llama.n_head_kv * llama.head_dim;
                        const uint64_t row =
                            kv == TINFER_KV_Q8_0 ? elems / 32 * 34 : elems * (kv ? 4 : 2);
                        assert_int_equal(info.kv_bytes, llama.n_layer * blocks * 32 * row);
                    }
                    tinfer_context_free(ctx);
                }
    /* The ring: at n_ctx 4096 the 6 sliding-window layers of the Gemma 3 keep 18 of 128 blocks. */
    tinfer_context_params p = params_of(4096, 1, TINFER_KV_F16);
    tinfer_context_info gemma, llama_info;
    assert_int_equal(tinfer_context_estimate(models[1], &p, sizeof p, &gemma, sizeof gemma),
                     TINFER_OK);
    assert_int_equal(
        tinfer_context_estimate(models[0], &p, sizeof p, &llama_info, sizeof llama_info),
        TINFER_OK);
    assert_true(gemma.kv_bytes * 2 < llama_info.kv_bytes);
    tinfer_model_free(models[0]);
    tinfer_model_free(models[1]);
}

static void estimate_refuses_what_creation_refuses(void **state) {
    (void)state;
    tinfer_model *model = load(synth_gemma3(), "info_refuse.gguf");
    tinfer_context_info info;
    tinfer_context_params p = params_of(0, 1, TINFER_KV_F16);
    assert_int_equal(tinfer_context_estimate(model, &p, sizeof p, &info, sizeof info),
                     TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "tinfer_context_estimate: n_ctx"));
    p = params_of(64, 1, TINFER_KV_F16);
    p.device = TINFER_DEVICE_CUDA;
    assert_int_equal(tinfer_context_estimate(model, &p, sizeof p, &info, sizeof info),
                     TINFER_E_UNSUPPORTED);
    assert_int_equal(tinfer_context_estimate(model, NULL, 0, NULL, sizeof info),
                     TINFER_E_INVALID_ARG);
    tinfer_model_free(model);
    synth_spec other = synth_gemma3();
    other.arch = "mamba";
    model = load(other, "info_other_arch.gguf");
    assert_int_equal(tinfer_context_estimate(model, NULL, 0, &info, sizeof info),
                     TINFER_E_UNSUPPORTED);
    tinfer_model_free(model);
}

/* This process's resident bytes (/proc/self/statm), or 0 where the system does not say. */
static uint64_t resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    const bool ok = f && fscanf(f, "%llu %llu", &size, &resident) == 2;
    if (f) fclose(f);
    return ok ? resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* Resident bytes gained by creating a context with p (left in *out). */
static uint64_t resident_gain(tinfer_model *model, const tinfer_context_params *p,
                              tinfer_context **out) {
    const uint64_t before = resident_bytes();
    assert_int_equal(tinfer_context_create(model, p, sizeof *p, out), TINFER_OK);
    const uint64_t after = resident_bytes();
    return after > before ? after - before : 0;
}

static void prefault_makes_the_cache_resident(void **state) {
    (void)state;
    if (resident_bytes() == 0) skip(); /* no /proc */
    tinfer_model *model = load(synth_gemma3(), "info_prefault.gguf");
    /* enough sequences for a cache far above the rest of a context (scratch, step arrays) */
    tinfer_context_params p = params_of(8192, 1, TINFER_KV_F16);
    tinfer_context_info info;
    do {
        p.n_seq_max *= 2;
        assert_int_equal(tinfer_context_estimate(model, &p, sizeof p, &info, sizeof info),
                         TINFER_OK);
    } while (info.kv_bytes < (48u << 20));
    tinfer_context *lazy = NULL, *resident = NULL;
    const uint64_t lazy_gain = resident_gain(model, &p, &lazy);
    p.prefault = true;
    const uint64_t prefault_gain = resident_gain(model, &p, &resident);
    assert_true(lazy_gain < info.kv_bytes / 4);
    assert_true(prefault_gain >= info.kv_bytes / 10 * 9);
    /* the same cache, the same bits */
    const int32_t prompt[] = {5, 17, 3, 90, 42, 7, 64, 11}; /* ids below n_vocab 96 */
    assert_int_equal(tinfer_prefill(lazy, 1, prompt, 8), TINFER_OK);
    assert_int_equal(tinfer_prefill(resident, 1, prompt, 8), TINFER_OK);
    const float *a = tinfer_logits(lazy, 1), *b = tinfer_logits(resident, 1);
    assert_non_null(a);
    assert_non_null(b);
    assert_memory_equal(a, b, synth_gemma3().n_vocab * sizeof(float));
    tinfer_context_free(lazy);
    tinfer_context_free(resident);
    tinfer_model_free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(estimate_equals_the_created_context),
        cmocka_unit_test(estimate_refuses_what_creation_refuses),
        cmocka_unit_test(prefault_makes_the_cache_resident),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
