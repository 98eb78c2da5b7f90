/* KV cache behaviour through the public API, on a small synthetic Gemma 3 (sliding-window and
 * global layers, GQA): a prompt split between prefill and decode gives the logits of one prefill;
 * a full context refuses and keeps the cache; truncation and clearing; N sequences decoded in one
 * call equal to one at a time; the sliding window forgets what it should. Sliding-window layers
 * keeping only a ring of blocks give bit-identical logits to keeping every position, through
 * prefill, decode, truncation and random fill; truncating past what the ring holds is refused. */
#define TINFER_EXPERIMENTAL /* tinfer_kv_seq_fill_random: tinfer/experimental.h */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "context/context.h"
#include "kv/kv_ring.h"
#include "synthetic_model.h"
#include "tinfer/tinfer.h"

/* Same tokens through different call patterns: only the order of float additions can differ
 * (≥ 8 tokens multiply F32 weights through sgemm, fewer row by row). Logits here reach ~30; the
 * observed differences are 1.1e-5 (prefill vs decode) and 1.1e-4 (7-token chunks vs one pass). */
#define SPLIT_TOLERANCE 5e-4f
/* 7-token chunks against one 45-token pass: OpenBLAS picks its sgemm kernel by CPU, and its
 * order differs by kernel — 1.1e-4 with the SkylakeX kernel (Zen 4), 9.3e-4 with the Haswell one
 * (Zen 3, or OPENBLAS_CORETYPE=Haswell), well below a wrong chunk boundary's change. */
#define CHUNK_TOLERANCE 2e-3f
/* With an F16 cache those last-bit differences in K and V can land on neighbouring halves (steps
 * of 2^-11 relative), which moves the logits by up to ~1e-3 (observed 1.1e-3). */
#define SPLIT_TOLERANCE_F16 5e-3f

/* The ring tests' window: small enough that a few hundred tokens wrap the ring many times. */
#define RING_WINDOW 16

typedef struct fixture {
    tinfer_model *model;
    tinfer_model *ring_model; /* the same with window RING_WINDOW */
    size_t n_vocab;
} fixture;

static int setup(void **state) {
    static fixture fx;
    synth_spec spec = synth_gemma3();
    char path[4096];
    if (!synth_write(&spec, "kv_gemma3.gguf", path, sizeof path)) return -1;
    if (tinfer_model_load(path, NULL, 0, &fx.model) != TINFER_OK) return -1;
    spec.sliding_window = RING_WINDOW;
    if (!synth_write(&spec, "kv_gemma3_ring.gguf", path, sizeof path)) return -1;
    if (tinfer_model_load(path, NULL, 0, &fx.ring_model) != TINFER_OK) return -1;
    fx.n_vocab = spec.n_vocab;
    *state = &fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    tinfer_model_free(fx->model);
    tinfer_model_free(fx->ring_model);
    return 0;
}

static tinfer_context *new_context(const fixture *fx, uint32_t n_ctx, uint32_t n_seq_max,
                                   tinfer_kv_dtype kv_dtype) {
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = n_ctx;
    params.n_seq_max = n_seq_max;
    params.kv_dtype = kv_dtype;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(fx->model, &params, sizeof params, &ctx), TINFER_OK);
    return ctx;
}

static void make_tokens(int32_t *tokens, size_t n, uint32_t salt, size_t n_vocab) {
    for (size_t i = 0; i < n; i++) tokens[i] = (int32_t)((i * 37 + salt * 11 + 3) % n_vocab);
}

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmaxf(worst, fabsf(a[i] - b[i]));
    return worst;
}

static void assert_logits_near(const float *a, const float *b, size_t n, float tolerance) {
    assert_non_null(a);
    assert_non_null(b);
    const float diff = max_abs_diff(a, b, n);
    if (diff > tolerance) fail_msg("logits differ by %g (tolerance %g)", diff, tolerance);
}

/* 45 tokens cross a 32-token block; the split point sits inside the window and after it. */
static void prefill_then_decode_equals_one_prefill(void **state) {
    fixture *fx = *state;
    const tinfer_kv_dtype dtypes[] = {TINFER_KV_F32, TINFER_KV_F16};
    for (size_t d = 0; d < 2; d++) {
        int32_t tokens[45];
        make_tokens(tokens, 45, 1, fx->n_vocab);
        tinfer_context *whole = new_context(fx, 64, 1, dtypes[d]);
        assert_int_equal(tinfer_prefill(whole, 0, tokens, 45), TINFER_OK);
        tinfer_context *split = new_context(fx, 64, 1, dtypes[d]);
        assert_int_equal(tinfer_prefill(split, 0, tokens, 30), TINFER_OK);
        for (size_t i = 30; i < 45; i++) {
            const int32_t seq = 0;
            assert_int_equal(tinfer_decode(split, &seq, &tokens[i], 1), TINFER_OK);
        }
        size_t len = 0;
        assert_int_equal(tinfer_kv_seq_len(split, 0, &len), TINFER_OK);
        assert_int_equal(len, 45);
        assert_logits_near(tinfer_logits(whole, 0), tinfer_logits(split, 0), fx->n_vocab,
                           dtypes[d] == TINFER_KV_F32 ? SPLIT_TOLERANCE : SPLIT_TOLERANCE_F16);
        tinfer_context_free(whole);
        tinfer_context_free(split);
    }
}

/* A prompt longer than n_batch runs in several passes; the result is the same. */
static void chunked_prefill_equals_one_pass(void **state) {
    fixture *fx = *state;
    int32_t tokens[45];
    make_tokens(tokens, 45, 9, fx->n_vocab);
    tinfer_context *whole = new_context(fx, 64, 1, TINFER_KV_F32);
    assert_int_equal(tinfer_prefill(whole, 0, tokens, 45), TINFER_OK);
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = 64;
    params.n_batch = 7;
    params.kv_dtype = TINFER_KV_F32;
    tinfer_context *chunked = NULL;
    assert_int_equal(tinfer_context_create(fx->model, &params, sizeof params, &chunked), TINFER_OK);
    assert_int_equal(tinfer_prefill(chunked, 0, tokens, 45), TINFER_OK);
    assert_logits_near(tinfer_logits(whole, 0), tinfer_logits(chunked, 0), fx->n_vocab,
                       CHUNK_TOLERANCE);
    tinfer_context_free(whole);
    tinfer_context_free(chunked);
}

static void full_context_refuses_and_keeps_the_cache(void **state) {
    fixture *fx = *state;
    int32_t tokens[20];
    make_tokens(tokens, 20, 2, fx->n_vocab);
    tinfer_context *ctx = new_context(fx, 16, 1, TINFER_KV_F32);
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, 10), TINFER_OK);
    float before[96];
    memcpy(before, tinfer_logits(ctx, 0), sizeof before);

    assert_int_equal(tinfer_prefill(ctx, 0, tokens + 10, 7), TINFER_E_CONTEXT_FULL);
    assert_true(strstr(tinfer_last_error(), "n_ctx") != NULL);
    size_t len = 0;
    assert_int_equal(tinfer_kv_seq_len(ctx, 0, &len), TINFER_OK);
    assert_int_equal(len, 10);
    assert_logits_near(before, tinfer_logits(ctx, 0), fx->n_vocab, 0.0f);
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, 17), TINFER_E_CONTEXT_FULL);

    /* Exactly full is allowed; one more is not, for decode too. */
    assert_int_equal(tinfer_prefill(ctx, 0, tokens + 10, 6), TINFER_OK);
    tinfer_context *whole = new_context(fx, 16, 1, TINFER_KV_F32);
    assert_int_equal(tinfer_prefill(whole, 0, tokens, 16), TINFER_OK);
    assert_logits_near(tinfer_logits(whole, 0), tinfer_logits(ctx, 0), fx->n_vocab,
                       SPLIT_TOLERANCE);
    const int32_t seq = 0;
    memcpy(before, tinfer_logits(ctx, 0), sizeof before);
    assert_int_equal(tinfer_decode(ctx, &seq, &tokens[16], 1), TINFER_E_CONTEXT_FULL);
    assert_int_equal(tinfer_kv_seq_len(ctx, 0, &len), TINFER_OK);
    assert_int_equal(len, 16);
    assert_logits_near(before, tinfer_logits(ctx, 0), fx->n_vocab, 0.0f);
    tinfer_context_free(whole);
    tinfer_context_free(ctx);
}

static void truncate_then_refill_gives_the_same_logits(void **state) {
    fixture *fx = *state;
    int32_t tokens[40], other[40];
    make_tokens(tokens, 40, 3, fx->n_vocab);
    make_tokens(other, 40, 4, fx->n_vocab);
    tinfer_context *ctx = new_context(fx, 64, 1, TINFER_KV_F32);
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, 40), TINFER_OK);
    float expected[96];
    memcpy(expected, tinfer_logits(ctx, 0), sizeof expected);

    /* Overwrite positions 12.. with other tokens, then go back and redo the original ones. */
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 12), TINFER_OK);
    assert_null(tinfer_logits(ctx, 0));
    assert_int_equal(tinfer_prefill(ctx, 0, other + 12, 28), TINFER_OK);
    assert_true(max_abs_diff(expected, tinfer_logits(ctx, 0), fx->n_vocab) > 1e-3f);
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 12), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 0, tokens + 12, 28), TINFER_OK);
    assert_logits_near(expected, tinfer_logits(ctx, 0), fx->n_vocab, SPLIT_TOLERANCE);

    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 41), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_kv_seq_clear(ctx, 0), TINFER_OK);
    size_t len = 99;
    assert_int_equal(tinfer_kv_seq_len(ctx, 0, &len), TINFER_OK);
    assert_int_equal(len, 0);
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, 40), TINFER_OK);
    assert_logits_near(expected, tinfer_logits(ctx, 0), fx->n_vocab, 0.0f);
    tinfer_context_free(ctx);
}

/* Three sequences of different lengths advanced together, against each one alone. */
static void batched_decode_equals_one_at_a_time(void **state) {
    fixture *fx = *state;
    enum { N_SEQ = 3, N_STEPS = 4 };
    const size_t prompt_len[N_SEQ] = {5, 33, 12};
    int32_t prompts[N_SEQ][40];
    for (uint32_t s = 0; s < N_SEQ; s++) make_tokens(prompts[s], 40, 10 + s, fx->n_vocab);
    tinfer_context *together = new_context(fx, 64, N_SEQ, TINFER_KV_F16);
    tinfer_context *alone = new_context(fx, 64, 1, TINFER_KV_F16);
    for (int32_t s = 0; s < N_SEQ; s++)
        assert_int_equal(tinfer_prefill(together, s, prompts[s], prompt_len[s]), TINFER_OK);
    /* Decode in a shuffled order of sequence ids. */
    const int32_t seqs[N_SEQ] = {2, 0, 1};
    for (int step = 0; step < N_STEPS; step++) {
        int32_t next[N_SEQ];
        for (int i = 0; i < N_SEQ; i++) next[i] = prompts[seqs[i]][prompt_len[seqs[i]] + step];
        assert_int_equal(tinfer_decode(together, seqs, next, N_SEQ), TINFER_OK);
    }
    for (int32_t s = 0; s < N_SEQ; s++) {
        assert_int_equal(tinfer_kv_seq_clear(alone, 0), TINFER_OK);
        assert_int_equal(tinfer_prefill(alone, 0, prompts[s], prompt_len[s]), TINFER_OK);
        for (int step = 0; step < N_STEPS; step++) {
            const int32_t seq = 0;
            assert_int_equal(tinfer_decode(alone, &seq, &prompts[s][prompt_len[s] + step], 1),
                             TINFER_OK);
        }
        assert_logits_near(tinfer_logits(alone, 0), tinfer_logits(together, s), fx->n_vocab,
                           SPLIT_TOLERANCE);
    }
    tinfer_context_free(together);
    tinfer_context_free(alone);
}

static void decode_rejects_bad_requests_without_changes(void **state) {
    fixture *fx = *state;
    int32_t tokens[8];
    make_tokens(tokens, 8, 5, fx->n_vocab);
    tinfer_context *ctx = new_context(fx, 16, 2, TINFER_KV_F32);
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, 4), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 1, tokens, 4), TINFER_OK);
    const int32_t twice[2] = {1, 1}, out_of_range[2] = {0, 2}, negative[1] = {-1};
    const int32_t good[2] = {0, 1}, bad_token[2] = {3, (int32_t)fx->n_vocab};
    assert_int_equal(tinfer_decode(ctx, twice, tokens, 2), TINFER_E_INVALID_ARG);
    assert_true(strstr(tinfer_last_error(), "twice") != NULL);
    assert_int_equal(tinfer_decode(ctx, out_of_range, tokens, 2), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_decode(ctx, negative, tokens, 1), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_decode(ctx, good, bad_token, 2), TINFER_E_INVALID_ARG);
    assert_true(strstr(tinfer_last_error(), "outside") != NULL);
    assert_int_equal(tinfer_decode(ctx, good, tokens, 3), TINFER_E_INVALID_ARG); /* > n_seq_max */
    assert_int_equal(tinfer_prefill(ctx, 2, tokens, 1), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, 0), TINFER_E_INVALID_ARG);
    const int32_t bad_prefill[2] = {1, -5};
    assert_int_equal(tinfer_prefill(ctx, 0, bad_prefill, 2), TINFER_E_INVALID_ARG);
    assert_null(tinfer_logits(ctx, 2));
    assert_null(tinfer_logits(ctx, -1));
    for (int32_t s = 0; s < 2; s++) {
        size_t len = 0;
        assert_int_equal(tinfer_kv_seq_len(ctx, s, &len), TINFER_OK);
        assert_int_equal(len, 4);
    }
    /* One sequence full makes the whole decode fail, the other unchanged too. */
    assert_int_equal(tinfer_prefill(ctx, 1, tokens, 8), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 1, tokens, 4), TINFER_OK); /* 16: full */
    assert_int_equal(tinfer_decode(ctx, good, tokens, 2), TINFER_E_CONTEXT_FULL);
    size_t len0 = 0;
    assert_int_equal(tinfer_kv_seq_len(ctx, 0, &len0), TINFER_OK);
    assert_int_equal(len0, 4);
    assert_int_equal(tinfer_decode(ctx, good, tokens, 1), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_len(ctx, 0, &len0), TINFER_OK);
    assert_int_equal(len0, 5);
    tinfer_context_free(ctx);
}

/* A one-layer Gemma 3 has only a sliding-window layer (window 5): the last position cannot see a
 * token 5 or more places back, so changing it leaves the logits bit-identical — and changing a
 * token inside the window does not. */
static void sliding_window_forgets_old_tokens(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    spec.n_layer = 1;
    char path[4096];
    assert_non_null(synth_write(&spec, "kv_gemma3_1layer.gguf", path, sizeof path));
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    fixture fx = {.model = model, .n_vocab = spec.n_vocab};
    int32_t a[12], b[12], c[12];
    make_tokens(a, 12, 6, spec.n_vocab);
    memcpy(b, a, sizeof a);
    memcpy(c, a, sizeof a);
    b[6] = (a[6] + 1) % (int32_t)spec.n_vocab; /* 5 places before the last: outside */
    c[7] = (a[7] + 1) % (int32_t)spec.n_vocab; /* 4 places before: inside */
    tinfer_context *ctx = new_context(&fx, 16, 3, TINFER_KV_F32);
    assert_int_equal(tinfer_prefill(ctx, 0, a, 12), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 1, b, 12), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 2, c, 12), TINFER_OK);
    assert_logits_near(tinfer_logits(ctx, 0), tinfer_logits(ctx, 1), spec.n_vocab, 0.0f);
    assert_true(max_abs_diff(tinfer_logits(ctx, 0), tinfer_logits(ctx, 2), spec.n_vocab) > 1e-4f);
    tinfer_context_free(ctx);
    tinfer_model_free(model);
}

/* A context of the window-16 model through the internal entry point: swa_full keeps every
 * position in the sliding-window layers instead of the ring. */
static tinfer_context *new_ring_context(const fixture *fx, uint32_t n_seq_max, uint32_t n_batch,
                                        tinfer_kv_dtype kv_dtype, bool swa_full) {
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = 512;
    params.n_seq_max = n_seq_max;
    params.n_batch = n_batch;
    params.kv_dtype = kv_dtype;
    const tf_context_options options = {.kv_swa_full = swa_full};
    tinfer_context *ctx = NULL;
    assert_int_equal(tf_context_create(fx->ring_model, &params, &options, &ctx), TINFER_OK);
    return ctx;
}

static void assert_same_logits(const fixture *fx, const tinfer_context *a, const tinfer_context *b,
                               int32_t seq) {
    const float *la = tinfer_logits(a, seq), *lb = tinfer_logits(b, seq);
    assert_non_null(la);
    assert_non_null(lb);
    assert_memory_equal(la, lb, fx->n_vocab * sizeof *la);
}

static void decode_one(tinfer_context *ctx, int32_t seq, int32_t token) {
    assert_int_equal(tinfer_decode(ctx, &seq, &token, 1), TINFER_OK);
}

/* Two sequences, prefilled in passes of n_batch and then decoded together, far past the window:
 * the ring (R = ceil((16 + n_batch + 31) / 32) + 1 blocks of the 16 a sequence may reach) gives
 * the logits of full storage bit for bit, since attention adds up by position, not by slot. */
static void ring_equals_full_storage(void **state) {
    fixture *fx = *state;
    const uint32_t batches[] = {8, 40};
    const uint32_t expected_ring[] = {3, 4};
    const tinfer_kv_dtype dtypes[] = {TINFER_KV_F32, TINFER_KV_F16};
    enum { N_STEPS = 40 };
    int32_t prompts[2][300 + N_STEPS];
    const size_t prompt_len[2] = {300, 70};
    for (uint32_t s = 0; s < 2; s++) make_tokens(prompts[s], 300 + N_STEPS, 20 + s, fx->n_vocab);
    for (size_t b = 0; b < 2; b++)
        for (size_t d = 0; d < 2; d++) {
            tinfer_context *ring = new_ring_context(fx, 2, batches[b], dtypes[d], false);
            tinfer_context *full = new_ring_context(fx, 2, batches[b], dtypes[d], true);
            assert_int_equal(ring->kv.ring_blocks, expected_ring[b]);
            assert_int_equal(full->kv.ring_blocks, 0);
            /* 6 of the 7 layers keep 2 × R blocks instead of 2 × 16. */
            assert_true(tf_context_kv_bytes(ring) * 2 < tf_context_kv_bytes(full));
            for (int32_t s = 0; s < 2; s++) {
                assert_int_equal(tinfer_prefill(ring, s, prompts[s], prompt_len[s]), TINFER_OK);
                assert_int_equal(tinfer_prefill(full, s, prompts[s], prompt_len[s]), TINFER_OK);
                assert_same_logits(fx, ring, full, s);
            }
            const int32_t seqs[2] = {1, 0};
            for (size_t step = 0; step < N_STEPS; step++) {
                const int32_t next[2] = {prompts[1][prompt_len[1] + step],
                                         prompts[0][prompt_len[0] + step]};
                assert_int_equal(tinfer_decode(ring, seqs, next, 2), TINFER_OK);
                assert_int_equal(tinfer_decode(full, seqs, next, 2), TINFER_OK);
                assert_same_logits(fx, ring, full, 0);
                assert_same_logits(fx, ring, full, 1);
            }
            tinfer_context_free(ring);
            tinfer_context_free(full);
        }
}

/* Ring of 3 blocks (96 positions), window 16: a sequence that ran to 200 tokens still holds
 * positions 128.. (blocks 4-6), so it can go back to 143 (whose next token reads 128..143) but
 * not to 142. */
static void truncation_within_the_ring_works_and_past_it_is_refused(void **state) {
    fixture *fx = *state;
    int32_t a[240], b[240];
    make_tokens(a, 240, 30, fx->n_vocab);
    make_tokens(b, 240, 31, fx->n_vocab);
    tinfer_context *ctx = new_ring_context(fx, 1, 8, TINFER_KV_F32, false);
    assert_int_equal(ctx->kv.ring_blocks, 3);
    /* Prefill in passes of 8, then decode. The fresh runs below cut at the edges of those passes,
     * so the positions they keep come out of the same passes, the same bits. */
    assert_int_equal(tinfer_prefill(ctx, 0, a, 192), TINFER_OK);
    for (size_t i = 192; i < 200; i++) decode_one(ctx, 0, a[i]);
    float before[96];
    memcpy(before, tinfer_logits(ctx, 0), sizeof before);

    const size_t refused[] = {142, 100, 15, 1};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, refused[i]), TINFER_E_UNSUPPORTED);
        char expected[200];
        snprintf(expected, sizeof expected,
                 "sequence 0 ran to 200 tokens; its sliding-window layers keep only the last 72 "
                 "positions, so it cannot be cut back to %zu (clear it and prefill again)",
                 refused[i]);
        assert_non_null(strstr(tinfer_last_error(), expected));
        size_t len = 0;
        assert_int_equal(tinfer_kv_seq_len(ctx, 0, &len), TINFER_OK);
        assert_int_equal(len, 200);
        assert_memory_equal(before, tinfer_logits(ctx, 0), sizeof before);
    }

    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 199), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 143), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 144), TINFER_E_INVALID_ARG); /* > length */
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 142), TINFER_E_UNSUPPORTED);
    /* Continue from 143 with other tokens, past where the sequence had been; a fresh run of
     * the same passes agrees. */
    for (size_t i = 143; i < 240; i++) decode_one(ctx, 0, b[i]);
    tinfer_context *fresh = new_ring_context(fx, 1, 8, TINFER_KV_F32, false);
    assert_int_equal(tinfer_prefill(fresh, 0, a, 144), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_truncate(fresh, 0, 143), TINFER_OK);
    for (size_t i = 143; i < 240; i++) decode_one(fresh, 0, b[i]);
    assert_same_logits(fx, ctx, fresh, 0);

    /* Clearing always works and starts over. */
    assert_int_equal(tinfer_kv_seq_clear(ctx, 0), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_clear(fresh, 0), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 0, a, 90), TINFER_OK);
    /* 90 tokens never wrapped the ring: any length is fine. */
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 1), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 0), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 0, a, 90), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 8), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 0, b + 8, 32), TINFER_OK);
    assert_int_equal(tinfer_prefill(fresh, 0, a, 8), TINFER_OK);
    assert_int_equal(tinfer_prefill(fresh, 0, b + 8, 32), TINFER_OK);
    assert_same_logits(fx, ctx, fresh, 0);
    tinfer_context_free(ctx);
    tinfer_context_free(fresh);
}

/* Random fill writes only what the ring keeps, the same rows as full storage holds there: a
 * decode step after it gives the same logits, at any fill length, growing or shrinking. */
static void fill_random_through_the_ring(void **state) {
    fixture *fx = *state;
    const tinfer_kv_dtype dtypes[] = {TINFER_KV_F16, TINFER_KV_F32};
    const size_t lengths[] = {300, 40, 0, 95, 96, 97, 510};
    for (size_t d = 0; d < 2; d++) {
        tinfer_context *ring = new_ring_context(fx, 2, 8, dtypes[d], false);
        tinfer_context *full = new_ring_context(fx, 2, 8, dtypes[d], true);
        for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
            assert_int_equal(tinfer_kv_seq_fill_random(ring, 1, lengths[i], 5), TINFER_OK);
            assert_int_equal(tinfer_kv_seq_fill_random(full, 1, lengths[i], 5), TINFER_OK);
            decode_one(ring, 1, 9);
            decode_one(full, 1, 9);
            assert_same_logits(fx, ring, full, 1);
            decode_one(ring, 1, 10);
            decode_one(full, 1, 10);
            assert_same_logits(fx, ring, full, 1);
        }
        /* The fill counts as having run to its length: a step back is fine, far back is not. */
        assert_int_equal(tinfer_kv_seq_fill_random(ring, 0, 300, 6), TINFER_OK);
        assert_int_equal(tinfer_kv_seq_truncate(ring, 0, 290), TINFER_OK);
        assert_int_equal(tinfer_kv_seq_truncate(ring, 0, 200), TINFER_E_UNSUPPORTED);
        tinfer_context_free(ring);
        tinfer_context_free(full);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prefill_then_decode_equals_one_prefill),
        cmocka_unit_test(chunked_prefill_equals_one_pass),
        cmocka_unit_test(full_context_refuses_and_keeps_the_cache),
        cmocka_unit_test(truncate_then_refill_gives_the_same_logits),
        cmocka_unit_test(batched_decode_equals_one_at_a_time),
        cmocka_unit_test(decode_rejects_bad_requests_without_changes),
        cmocka_unit_test(sliding_window_forgets_old_tokens),
        cmocka_unit_test(ring_equals_full_storage),
        cmocka_unit_test(truncation_within_the_ring_works_and_past_it_is_refused),
        cmocka_unit_test(fill_random_through_the_ring),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
