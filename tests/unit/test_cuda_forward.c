/* The CUDA forward pass against the CPU's on the synthetic models: every architecture (gemma3
 * with its sliding windows, llama with Llama 3 RoPE divisors, qwen2, qwen3) and the weight types
 * the synthetic writer makes, a prompt and then greedy decoding well past the sliding window; and
 * the benchmarks' random KV fill (tinfer_kv_seq_fill_random), whose rows both backends make from
 * the same numbers: a step after it gives the same logits.
 *
 * Tolerance: the CUDA kernels sum in float32 in their own orders (and the CPU in llama.cpp's,
 * quantizing activations to Q8 where llama.cpp does), so logits agree to a small fraction of
 * their spread, not to the bit: each logit within 2 % of the largest absolute logit. The greedy
 * tokens must be the same wherever the CPU's top two logits are further apart than that.
 *
 * Skips, saying why, in a build without CUDA or on a machine without a GPU (this one); runs in
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

#define TINFER_EXPERIMENTAL /* tinfer_kv_seq_fill_random: tinfer/experimental.h */
#include "tinfer/tinfer.h"

#if TINFER_HAVE_CUDA
#include "synthetic_model.h"

enum { PROMPT = 12, STEPS = 20, N_CTX = 64 };
static const double LOGIT_TOLERANCE = 0.02; /* of the largest absolute logit */

static tinfer_context *context_kv_on(tinfer_model *model, tinfer_device_kind device,
                                     tinfer_kv_dtype kv_dtype) {
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    p.n_ctx = N_CTX;
    p.device = device;
    p.kv_dtype = kv_dtype;
    tinfer_context *ctx = NULL;
    const tinfer_status status = tinfer_context_create(model, &p, sizeof p, &ctx);
    if (status != TINFER_OK) fail_msg("context on device %d: %s", (int)device, tinfer_last_error());
    return ctx;
}

static tinfer_context *context_on(tinfer_model *model, tinfer_device_kind device) {
    return context_kv_on(model, device, TINFER_KV_F16);
}

/* The largest difference, as a fraction of the CPU row's largest magnitude; the CPU's top two. */
static double compare_rows(const float *cpu, const float *gpu, size_t n, int32_t *top,
                           double *gap) {
    double spread = 0, worst = 0;
    size_t best = 0, second = n > 1 ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(cpu[i]) > spread) spread = fabs(cpu[i]);
        if (fabs((double)cpu[i] - gpu[i]) > worst) worst = fabs((double)cpu[i] - gpu[i]);
        if (cpu[i] > cpu[best]) {
            second = best;
            best = i;
        } else if (i != best && cpu[i] > cpu[second]) {
            second = i;
        }
    }
    *top = (int32_t)best;
    *gap = n > 1 ? ((double)cpu[best] - cpu[second]) / (spread > 0 ? spread : 1) : 1;
    return worst / (spread > 0 ? spread : 1);
}

static int32_t argmax(const float *row, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (row[i] > row[best]) best = i;
    return (int32_t)best;
}

static void check_model(const synth_spec *spec, const char *label) {
    char path[512];
    assert_non_null(synth_write(spec, "cuda_forward.gguf", path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    tinfer_context *cpu = context_on(model, TINFER_DEVICE_CPU);
    tinfer_context *gpu = context_on(model, TINFER_DEVICE_CUDA);
    const size_t n_vocab = tinfer_context_n_vocab(cpu);
    int32_t prompt[PROMPT];
    for (int i = 0; i < PROMPT; i++) prompt[i] = (int32_t)((i * 37 + 5) % n_vocab);
    assert_int_equal(tinfer_prefill(cpu, 0, prompt, PROMPT), TINFER_OK);
    if (tinfer_prefill(gpu, 0, prompt, PROMPT) != TINFER_OK)
        fail_msg("%s: CUDA prefill: %s", label, tinfer_last_error());
    const int32_t seq = 0;
    for (int step = 0; step <= STEPS; step++) {
        int32_t top;
        double gap;
        const double worst =
            compare_rows(tinfer_logits(cpu, 0), tinfer_logits(gpu, 0), n_vocab, &top, &gap);
        if (worst > LOGIT_TOLERANCE)
            fail_msg("%s, step %d: logits differ by %.4f of their spread", label, step, worst);
        const int32_t gpu_top = argmax(tinfer_logits(gpu, 0), n_vocab);
        if (gap > LOGIT_TOLERANCE && gpu_top != top)
            fail_msg("%s, step %d: CUDA picks %d, the CPU %d (gap %.4f)", label, step, gpu_top, top,
                     gap);
        if (step == STEPS) break;
        assert_int_equal(tinfer_decode(cpu, &seq, &top, 1), TINFER_OK);
        if (tinfer_decode(gpu, &seq, &top, 1) != TINFER_OK)
            fail_msg("%s: CUDA decode: %s", label, tinfer_last_error());
    }
    tinfer_context_free(gpu);
    tinfer_context_free(cpu);
    tinfer_model_free(model);
}

static bool have_device(void) {
    if (tinfer_cuda_device_count() > 0) return true;
    fprintf(stderr, "test_cuda_forward: no CUDA device on this machine: skipped\n");
    return false;
}

static void every_architecture_matches_the_cpu(void **state) {
    (void)state;
    if (!have_device()) skip();
    setenv("TINFER_CUDA_UNTESTED", "1", 1);
    static const uint32_t TYPES[] = {0 /* F32 */, 1 /* F16 */, 8 /* Q8_0 */, 6 /* Q5_0 */,
                                     2 /* Q4_0 */};
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        synth_spec gemma = synth_gemma3();
        gemma.matrix_type = TYPES[i];
        char label[64];
        snprintf(label, sizeof label, "gemma3, type %u", TYPES[i]);
        check_model(&gemma, label);
    }
    synth_spec llama = synth_gemma3();
    llama.arch = "llama";
    llama.sliding_window = 0;
    llama.rope_freqs = true;
    llama.rope_freq_base = 500000.0f;
    check_model(&llama, "llama");
    synth_spec qwen2 = synth_gemma3();
    qwen2.arch = "qwen2";
    qwen2.sliding_window = 0;
    check_model(&qwen2, "qwen2");
    synth_spec qwen3 = synth_gemma3();
    qwen3.arch = "qwen3";
    qwen3.sliding_window = 0;
    check_model(&qwen3, "qwen3");
}

/* Filled to FILL_TO (past a block of 32 and the synthetic gemma's sliding window), then one step:
 * the logits within the forward's tolerance of the CPU's, for each KV type CUDA keeps. */
enum { FILL_TO = 40 };
static void random_kv_fill_matches_the_cpu(void **state) {
    (void)state;
    if (!have_device()) skip();
    setenv("TINFER_CUDA_UNTESTED", "1", 1);
    synth_spec spec = synth_gemma3();
    char path[512];
    assert_non_null(synth_write(&spec, "cuda_fill.gguf", path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    static const tinfer_kv_dtype KV_TYPES[] = {TINFER_KV_F16, TINFER_KV_F32};
    for (size_t i = 0; i < sizeof KV_TYPES / sizeof KV_TYPES[0]; i++) {
        tinfer_context *cpu = context_kv_on(model, TINFER_DEVICE_CPU, KV_TYPES[i]);
        tinfer_context *gpu = context_kv_on(model, TINFER_DEVICE_CUDA, KV_TYPES[i]);
        assert_int_equal(tinfer_kv_seq_fill_random(cpu, 0, FILL_TO, 7), TINFER_OK);
        if (tinfer_kv_seq_fill_random(gpu, 0, FILL_TO, 7) != TINFER_OK)
            fail_msg("KV type %d: CUDA fill: %s", (int)KV_TYPES[i], tinfer_last_error());
        const int32_t seq = 0, token = 5;
        assert_int_equal(tinfer_decode(cpu, &seq, &token, 1), TINFER_OK);
        if (tinfer_decode(gpu, &seq, &token, 1) != TINFER_OK)
            fail_msg("KV type %d: CUDA decode: %s", (int)KV_TYPES[i], tinfer_last_error());
        int32_t top;
        double gap;
        const size_t n_vocab = tinfer_context_n_vocab(cpu);
        const double worst =
            compare_rows(tinfer_logits(cpu, 0), tinfer_logits(gpu, 0), n_vocab, &top, &gap);
        if (worst > LOGIT_TOLERANCE)
            fail_msg("KV type %d: after the fill, logits differ by %.4f of their spread",
                     (int)KV_TYPES[i], worst);
        tinfer_context_free(gpu);
        tinfer_context_free(cpu);
    }
    tinfer_model_free(model);
}
#else
static void random_kv_fill_matches_the_cpu(void **state) {
    (void)state;
    fprintf(stderr, "test_cuda_forward: built without CUDA: skipped\n");
    skip();
}

static void every_architecture_matches_the_cpu(void **state) {
    (void)state;
    fprintf(stderr, "test_cuda_forward: built without CUDA: skipped\n");
    skip();
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(every_architecture_matches_the_cpu),
                                       cmocka_unit_test(random_kv_fill_matches_the_cpu)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
