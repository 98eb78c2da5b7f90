/* KV sequences that fork (tinfer_kv_seq_copy) over the shared block pool (n_kv_tokens).
 *
 * For every architecture the synthetic models cover (gemma3 with its sliding-window ring, llama,
 * qwen2, qwen3) and both KV dtypes, a sequence forked from a prefilled prompt and decoded on its
 * own gives the logits, bit for bit, of a fresh context that prefilled the same prompt and decoded
 * the same tokens: forks at a block boundary, inside a block, and past where the ring wraps; a
 * fork of a fork; a fork truncated into a shared block; the source cleared after the fork; a
 * prefill appended to a fork. The pool: 16 forks of a 2,000-token prompt fit a budget of one
 * prompt plus 16 tails, the free capacity is what the block arithmetic says at every step, and one
 * block less makes the last decode fail with nothing changed; a failed step (full pool, abort)
 * undoes its copy-on-write. Bad arguments are refused with messages naming them.
 *
 * Why bit-identical: a prompt's rows come out of the same prefill passes (n_batch 8, and cuts at
 * multiples of 8), a decode step rounds each sequence as a single token whatever its batch-mates,
 * and a copy-on-write or ring copy moves rows without converting them. */
#define TINFER_EXPERIMENTAL /* tinfer_kv_seq_fill_random */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "context/context.h"
#include "synthetic_model.h"
#include "tinfer/tinfer.h"

enum { N_ARCH = 4, N_VOCAB = 96, N_BATCH = 8, N_CTX = 256, MAX_TOKENS = 4096 };

typedef struct arch_model {
    const char *arch;
    tinfer_model *model;
} arch_model;

static arch_model models[N_ARCH] = {
    {"gemma3", NULL}, {"llama", NULL}, {"qwen2", NULL}, {"qwen3", NULL}};

static int setup(void **state) {
    (void)state;
    for (int m = 0; m < N_ARCH; m++) {
        synth_spec spec = synth_gemma3(); /* window 5 on all layers but one */
        spec.arch = models[m].arch;
        spec.matrix_type = 8; /* Q8_0: integer kernels in llama.cpp's order */
        if (strcmp(spec.arch, "gemma3") != 0) spec.sliding_window = 0;
        char name[64], path[4096];
        snprintf(name, sizeof name, "kv_fork_%s.gguf", spec.arch);
        if (!synth_write(&spec, name, path, sizeof path)) return -1;
        if (tinfer_model_load(path, NULL, 0, &models[m].model) != TINFER_OK) return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int m = 0; m < N_ARCH; m++) tinfer_model_free(models[m].model);
    return 0;
}

typedef struct ctx_opts {
    uint32_t n_ctx, n_seq_max, n_batch, n_kv_tokens;
    tinfer_kv_dtype kv_dtype;
    tinfer_abort_fn abort_fn;
    void *abort_data;
} ctx_opts;

static tinfer_context *new_context(const tinfer_model *model, ctx_opts o) {
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    p.n_ctx = o.n_ctx ? o.n_ctx : N_CTX;
    p.n_seq_max = o.n_seq_max ? o.n_seq_max : 1;
    p.n_batch = o.n_batch ? o.n_batch : N_BATCH;
    p.n_kv_tokens = o.n_kv_tokens;
    p.kv_dtype = o.kv_dtype;
    p.n_threads = 1;
    p.abort_callback = o.abort_fn;
    p.abort_user_data = o.abort_data;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &p, sizeof p, &ctx), TINFER_OK);
    return ctx;
}

static void make_tokens(int32_t *tokens, size_t n, uint32_t salt) {
    for (size_t i = 0; i < n; i++) tokens[i] = (int32_t)((i * 37 + salt * 11 + 3) % N_VOCAB);
}

static void decode_one(tinfer_context *ctx, int32_t seq, int32_t token) {
    assert_int_equal(tinfer_decode(ctx, &seq, &token, 1), TINFER_OK);
}

static size_t seq_len(const tinfer_context *ctx, int32_t seq) {
    size_t n = 0;
    assert_int_equal(tinfer_kv_seq_len(ctx, seq, &n), TINFER_OK);
    return n;
}

static size_t free_tokens(const tinfer_context *ctx) {
    size_t n = 0;
    assert_int_equal(tinfer_kv_free_tokens(ctx, &n), TINFER_OK);
    return n;
}

/* The logits of a fresh one-sequence context after prefilling prompt[0, n_prompt) in one call,
 * then (optionally) `extra` in one more prefill call, then decoding tail one token at a time. */
typedef struct history {
    const int32_t *prompt;
    size_t n_prompt;
    const int32_t *extra;
    size_t n_extra;
    const int32_t *tail;
    size_t n_tail;
} history;

static void fresh_logits(const tinfer_model *model, ctx_opts o, history h, float *out) {
    o.n_seq_max = 1;
    o.n_kv_tokens = 0;
    o.abort_fn = NULL;
    tinfer_context *ctx = new_context(model, o);
    assert_int_equal(tinfer_prefill(ctx, 0, h.prompt, h.n_prompt), TINFER_OK);
    if (h.n_extra) assert_int_equal(tinfer_prefill(ctx, 0, h.extra, h.n_extra), TINFER_OK);
    for (size_t i = 0; i < h.n_tail; i++) decode_one(ctx, 0, h.tail[i]);
    memcpy(out, tinfer_logits(ctx, 0), N_VOCAB * sizeof *out);
    tinfer_context_free(ctx);
}

static void assert_fresh(const tinfer_context *ctx, int32_t seq, const tinfer_model *model,
                         ctx_opts o, history h) {
    float expected[N_VOCAB];
    fresh_logits(model, o, h, expected);
    const float *got = tinfer_logits(ctx, seq);
    assert_non_null(got);
    assert_memory_equal(expected, got, sizeof expected);
    assert_int_equal(seq_len(ctx, seq), h.n_prompt + h.n_extra + h.n_tail);
}

/* Prompts of 45 (inside a block), 64 (a block boundary) and 150 tokens (the gemma3 ring of
 * 3 blocks = 96 rows has wrapped), forked twice (1 from 0, 2 from 1: a fork of a fork), then all
 * three decoded together with different tokens. */
static void forks_decode_like_fresh_contexts(void **state) {
    (void)state;
    enum { N_STEPS = 3, N_SEQ = 3 };
    const size_t prompt_lens[] = {45, 64, 150};
    int32_t prompt[150], tails[N_SEQ][N_STEPS];
    make_tokens(prompt, 150, 1);
    for (int s = 0; s < N_SEQ; s++) make_tokens(tails[s], N_STEPS, 50 + (uint32_t)s);
    for (int m = 0; m < N_ARCH; m++)
        for (int d = 0; d < 2; d++)
            for (size_t p = 0; p < 3; p++) {
                const ctx_opts o = {.n_seq_max = N_SEQ, .kv_dtype = (tinfer_kv_dtype)d};
                const size_t n_prompt = prompt_lens[p];
                tinfer_context *ctx = new_context(models[m].model, o);
                if (m == 0) assert_int_equal(ctx->kv.ring_blocks, 3);
                else assert_int_equal(ctx->kv.ring_blocks, 0);
                assert_int_equal(tinfer_prefill(ctx, 0, prompt, n_prompt), TINFER_OK);
                const size_t free_before = free_tokens(ctx);
                assert_int_equal(tinfer_kv_seq_copy(ctx, 0, 1), TINFER_OK);
                assert_int_equal(tinfer_kv_seq_copy(ctx, 1, 2), TINFER_OK);
                assert_int_equal(free_tokens(ctx), free_before); /* a fork takes no block */
                for (int32_t s = 1; s < N_SEQ; s++) {
                    assert_int_equal(seq_len(ctx, s), n_prompt);
                    assert_memory_equal(tinfer_logits(ctx, 0), tinfer_logits(ctx, s),
                                        N_VOCAB * sizeof(float));
                }
                const int32_t seqs[N_SEQ] = {2, 0, 1};
                for (int k = 0; k < N_STEPS; k++) {
                    const int32_t next[N_SEQ] = {tails[2][k], tails[0][k], tails[1][k]};
                    assert_int_equal(tinfer_decode(ctx, seqs, next, N_SEQ), TINFER_OK);
                }
                /* Mid-block, the first step copied the shared block for two of the three; at a
                 * boundary each took a new block. */
                const size_t used = n_prompt % 32 ? 2 : 3;
                assert_int_equal(free_tokens(ctx), free_before - used * 32);
                for (int32_t s = 0; s < N_SEQ; s++)
                    assert_fresh(ctx, s, models[m].model, o,
                                 (history){.prompt = prompt,
                                           .n_prompt = n_prompt,
                                           .tail = tails[s],
                                           .n_tail = N_STEPS});
                tinfer_context_free(ctx);
            }
}

/* A fork cut back into a block it shares, then written: the copy happens, the source is
 * untouched; clearing the source leaves the fork whole; a prefill appended to a fork; and the ring
 * of a fork truncates as its source would (what it still holds, no further). */
static void truncate_clear_and_prefill_after_a_fork(void **state) {
    (void)state;
    int32_t prompt[150], a[8], b[8], c[24];
    make_tokens(prompt, 150, 2);
    make_tokens(a, 8, 60);
    make_tokens(b, 8, 61);
    make_tokens(c, 24, 62);
    for (int m = 0; m < N_ARCH; m++)
        for (int d = 0; d < 2; d++) {
            const tinfer_model *model = models[m].model;
            const ctx_opts o = {.n_seq_max = 4, .kv_dtype = (tinfer_kv_dtype)d};
            tinfer_context *ctx = new_context(model, o);
            assert_int_equal(tinfer_prefill(ctx, 0, prompt, 70), TINFER_OK);
            assert_int_equal(tinfer_kv_seq_copy(ctx, 0, 1), TINFER_OK);
            /* 70 tokens: blocks 0, 1 full and shared, block 2 partly filled and shared. Cutting
             * seq 1 back to 40 drops its reference to block 2 (still seq 0's: nothing freed) and
             * keeps block 1 shared with 8 of its rows; the first write copies those 8. */
            const size_t free0 = free_tokens(ctx);
            assert_int_equal(tinfer_kv_seq_truncate(ctx, 1, 40), TINFER_OK);
            assert_null(tinfer_logits(ctx, 1));
            assert_int_equal(free_tokens(ctx), free0);
            decode_one(ctx, 1, a[0]);
            assert_int_equal(free_tokens(ctx), free0 - 32);
            for (int i = 1; i < 8; i++) decode_one(ctx, 1, a[i]);
            assert_fresh(ctx, 1, model, o,
                         (history){.prompt = prompt, .n_prompt = 40, .tail = a, .n_tail = 8});
            /* seq 0 never saw any of it */
            for (int i = 0; i < 8; i++) decode_one(ctx, 0, b[i]);
            assert_fresh(ctx, 0, model, o,
                         (history){.prompt = prompt, .n_prompt = 70, .tail = b, .n_tail = 8});

            /* Fork seq 0 (78 tokens) into 2, clear 0: 2 still decodes as if it were 0. */
            assert_int_equal(tinfer_kv_seq_copy(ctx, 0, 2), TINFER_OK);
            assert_int_equal(tinfer_kv_seq_clear(ctx, 0), TINFER_OK);
            assert_int_equal(seq_len(ctx, 0), 0);
            decode_one(ctx, 2, c[0]);
            int32_t tail[9];
            memcpy(tail, b, sizeof b);
            tail[8] = c[0];
            assert_fresh(ctx, 2, model, o,
                         (history){.prompt = prompt, .n_prompt = 70, .tail = tail, .n_tail = 9});

            /* A prefill onto a fork (seq 3 from seq 1, 48 tokens: mid-block). */
            assert_int_equal(tinfer_kv_seq_copy(ctx, 1, 3), TINFER_OK);
            assert_int_equal(tinfer_prefill(ctx, 3, c, 24), TINFER_OK);
            float expected[N_VOCAB];
            fresh_logits(model, o,
                         (history){.prompt = prompt, .n_prompt = 40, .tail = a, .n_tail = 8},
                         expected);
            assert_memory_equal(expected, tinfer_logits(ctx, 1), sizeof expected);
            /* seq 3's own history: 40 prompt tokens prefilled, 8 decoded, then 24 prefilled */
            tinfer_context *fresh = new_context(model, (ctx_opts){.kv_dtype = o.kv_dtype});
            assert_int_equal(tinfer_prefill(fresh, 0, prompt, 40), TINFER_OK);
            for (int i = 0; i < 8; i++) decode_one(fresh, 0, a[i]);
            assert_int_equal(tinfer_prefill(fresh, 0, c, 24), TINFER_OK);
            assert_memory_equal(tinfer_logits(fresh, 0), tinfer_logits(ctx, 3), sizeof expected);
            assert_int_equal(seq_len(ctx, 3), 72);
            tinfer_context_free(fresh);
            tinfer_context_free(ctx);
        }

    /* The ring (gemma3): 150 tokens wrapped the 96-row ring, which then holds positions 64..; a
     * fork truncates like its source — to 144 (whose next token reads 140..144) but not to 40. */
    const tinfer_model *gemma = models[0].model;
    const ctx_opts o = {.n_seq_max = 2, .kv_dtype = TINFER_KV_F32};
    tinfer_context *ctx = new_context(gemma, o);
    assert_int_equal(tinfer_prefill(ctx, 0, prompt, 150), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_copy(ctx, 0, 1), TINFER_OK);
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 1, 40), TINFER_E_UNSUPPORTED);
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 0, 40), TINFER_E_UNSUPPORTED);
    assert_int_equal(tinfer_kv_seq_truncate(ctx, 1, 144), TINFER_OK);
    for (int i = 0; i < 8; i++) decode_one(ctx, 1, a[i]);
    assert_fresh(ctx, 1, gemma, o,
                 (history){.prompt = prompt, .n_prompt = 144, .tail = a, .n_tail = 8});
    decode_one(ctx, 0, b[0]);
    assert_fresh(ctx, 0, gemma, o,
                 (history){.prompt = prompt, .n_prompt = 150, .tail = b, .n_tail = 1});
    tinfer_context_free(ctx);
}

/* One prompt of 2,000 tokens (62 full blocks and 16 rows of a 63rd), forked into 16 sequences,
 * each decoded 48 tokens further (to 2,048 = 64 blocks). The first step copies the shared 63rd
 * block for 15 of them (the 16th then writes into it alone); the 17th step (position 2,016) takes
 * a new block for each. So the pool needs 62 + 16 × 2 = 94 blocks: 2,000 + 16 × 63 tokens, against
 * 16 × n_ctx without sharing. */
enum { N_FORKS = 16, PROMPT = 2000, TAIL = 48, BUDGET = PROMPT + N_FORKS * 63 };

static uint64_t expected_kv_bytes(const tinfer_context *ctx, uint64_t pool_blocks) {
    const uint64_t row = 2ull * 2 /* n_head_kv */ * 32 /* head_dim */ * 2 /* F16 */;
    uint64_t total = 0;
    for (uint32_t l = 0; l < ctx->kv.n_layer; l++)
        total +=
            (ctx->kv.layer_in_ring[l] ? (uint64_t)N_FORKS * ctx->kv.ring_blocks : pool_blocks) *
            32 * row;
    return total;
}

static void run_forks(tinfer_context *ctx, const int32_t *prompt, int32_t tails[][TAIL],
                      int fail_at_step) {
    assert_int_equal(tinfer_prefill(ctx, 0, prompt, PROMPT), TINFER_OK);
    const size_t pool = BUDGET / 32 * 32 - (fail_at_step >= 0 ? 32 : 0);
    assert_int_equal(free_tokens(ctx), pool - 63 * 32);
    for (int32_t s = 1; s < N_FORKS; s++)
        assert_int_equal(tinfer_kv_seq_copy(ctx, 0, s), TINFER_OK);
    assert_int_equal(free_tokens(ctx), pool - 63 * 32);
    int32_t seqs[N_FORKS];
    for (int32_t s = 0; s < N_FORKS; s++) seqs[s] = s;
    for (int k = 0; k < TAIL; k++) {
        int32_t next[N_FORKS];
        for (int s = 0; s < N_FORKS; s++) next[s] = tails[s][k];
        if (k == fail_at_step) {
            float before[N_FORKS][N_VOCAB];
            for (int32_t s = 0; s < N_FORKS; s++)
                memcpy(before[s], tinfer_logits(ctx, s), sizeof before[s]);
            const size_t free_before = free_tokens(ctx);
            assert_int_equal(tinfer_decode(ctx, seqs, next, N_FORKS), TINFER_E_CONTEXT_FULL);
            assert_non_null(strstr(tinfer_last_error(), "are free"));
            assert_int_equal(free_tokens(ctx), free_before);
            for (int32_t s = 0; s < N_FORKS; s++) {
                assert_int_equal(seq_len(ctx, s), PROMPT + k);
                assert_memory_equal(before[s], tinfer_logits(ctx, s), sizeof before[s]);
            }
            /* Letting one fork go returns its own block (the shared ones keep their holders):
             * the other 15 fit. */
            assert_int_equal(tinfer_kv_seq_clear(ctx, N_FORKS - 1), TINFER_OK);
            assert_int_equal(free_tokens(ctx), free_before + 32);
            assert_int_equal(tinfer_decode(ctx, seqs, next, N_FORKS - 1), TINFER_OK);
            assert_int_equal(free_tokens(ctx), free_before + 32 - 15 * 32);
            return;
        }
        assert_int_equal(tinfer_decode(ctx, seqs, next, N_FORKS), TINFER_OK);
        /* 62 shared blocks, and each fork's own past them: 1 up to 2,016 tokens, 2 after. */
        const size_t len = PROMPT + (size_t)k + 1;
        const size_t own = len > 2016 ? 2 : 1;
        assert_int_equal(free_tokens(ctx), pool - (62 + N_FORKS * own) * 32);
    }
    assert_int_equal(free_tokens(ctx), 0);
}

static void sixteen_forks_fit_one_prompt_plus_tails(void **state) {
    (void)state;
    static int32_t prompt[PROMPT], tails[N_FORKS][TAIL];
    make_tokens(prompt, PROMPT, 3);
    for (int s = 0; s < N_FORKS; s++) make_tokens(tails[s], TAIL, 70 + (uint32_t)s);
    for (int m = 0; m < 2; m++) { /* gemma3 (global layers share, the ring is per fork), llama */
        const tinfer_model *model = models[m].model;
        const ctx_opts o = {.n_ctx = 4096,
                            .n_seq_max = N_FORKS,
                            .n_batch = 512,
                            .n_kv_tokens = BUDGET,
                            .kv_dtype = TINFER_KV_F16};
        tinfer_context *ctx = new_context(model, o);
        tinfer_context_info info;
        assert_int_equal(tinfer_context_get_info(ctx, &info, sizeof info), TINFER_OK);
        assert_int_equal(info.n_kv_tokens, 94 * 32);
        assert_int_equal(info.kv_bytes, expected_kv_bytes(ctx, 94));
        /* The old sizing, n_seq_max × n_ctx, as the default still is. */
        tinfer_context_params p;
        tinfer_context_params_init(&p, sizeof p);
        p.n_ctx = 4096;
        p.n_seq_max = N_FORKS;
        tinfer_context_info old;
        assert_int_equal(tinfer_context_estimate(model, &p, sizeof p, &old, sizeof old), TINFER_OK);
        assert_int_equal(old.n_kv_tokens, N_FORKS * 4096);
        assert_int_equal(old.kv_bytes, expected_kv_bytes(ctx, N_FORKS * 128));
        print_message("%s: 16 forks of 2,000 tokens: %.2f MiB with n_kv_tokens = %d, %.2f MiB "
                      "for 16 x n_ctx 4096\n",
                      models[m].arch, (double)info.kv_bytes / (1 << 20), BUDGET,
                      (double)old.kv_bytes / (1 << 20));

        run_forks(ctx, prompt, tails, -1);
        /* Against a fresh context (prefill in passes of 512 as here): on gemma3 the last fork,
         * which wrote into the prompt's last block in place, on llama the first, which copied
         * it (every fork is checked so in forks_decode_like_fresh_contexts). Each 2,000-token
         * prefill is a good part of this test's time, hence one each. */
        const int32_t checked = m == 0 ? N_FORKS - 1 : 0;
        assert_fresh(
            ctx, checked, model, o,
            (history){
                .prompt = prompt, .n_prompt = PROMPT, .tail = tails[checked], .n_tail = TAIL});
        tinfer_context_free(ctx);
        if (m == 0) continue; /* the pool works alike whether the model has a ring */

        /* One block less: the step at position 2,016 finds 15 free blocks for 16 forks. */
        ctx_opts small = o;
        small.n_kv_tokens = BUDGET - 32;
        ctx = new_context(model, small);
        run_forks(ctx, prompt, tails, 2016 - PROMPT);
        tinfer_context_free(ctx);
    }
}

typedef struct abort_flag {
    bool stop;
} abort_flag;

static bool stop_if_flagged(void *user_data) { return ((abort_flag *)user_data)->stop; }

/* A step that fails after its reserve made copies-on-write puts the shared blocks back: the same
 * free capacity, lengths and logits, and the step run again gives the fresh contexts' logits. */
static void failed_steps_undo_their_copies(void **state) {
    (void)state;
    int32_t prompt[45], t[3];
    make_tokens(prompt, 45, 4);
    make_tokens(t, 3, 80);
    for (int m = 0; m < N_ARCH; m++) {
        const tinfer_model *model = models[m].model;
        abort_flag flag = {false};
        /* 3 blocks: the prompt's 2, and one for a copy. */
        const ctx_opts o = {.n_ctx = 64,
                            .n_seq_max = 3,
                            .n_kv_tokens = 96,
                            .abort_fn = stop_if_flagged,
                            .abort_data = &flag};
        tinfer_context *ctx = new_context(model, o);
        assert_int_equal(tinfer_prefill(ctx, 0, prompt, 45), TINFER_OK);
        assert_int_equal(tinfer_kv_seq_copy(ctx, 0, 1), TINFER_OK);
        assert_int_equal(tinfer_kv_seq_copy(ctx, 0, 2), TINFER_OK);
        assert_int_equal(free_tokens(ctx), 32);

        /* seq 1 copies block 1 into the last free block; seq 2 would need another. */
        const int32_t both[2] = {1, 2};
        assert_int_equal(tinfer_decode(ctx, both, t, 2), TINFER_E_CONTEXT_FULL);
        assert_int_equal(free_tokens(ctx), 32);
        /* Aborted with copies made for seq 1 (and seq 0, whose block 1 is shared with 2). */
        flag.stop = true;
        const int32_t two[2] = {0, 1};
        assert_int_equal(tinfer_decode(ctx, two, t, 2), TINFER_E_CONTEXT_FULL);
        assert_int_equal(tinfer_decode(ctx, two, t, 1), TINFER_E_ABORTED);
        assert_int_equal(tinfer_prefill(ctx, 1, t, 3), TINFER_E_ABORTED);
        assert_int_equal(free_tokens(ctx), 32);
        for (int32_t s = 0; s < 3; s++) {
            assert_int_equal(seq_len(ctx, s), 45);
            assert_memory_equal(tinfer_logits(ctx, 0), tinfer_logits(ctx, s),
                                N_VOCAB * sizeof(float));
        }
        flag.stop = false;
        decode_one(ctx, 1, t[0]);
        assert_int_equal(free_tokens(ctx), 0);
        /* seq 0 and 2 still share block 1: either needs a copy, and none is free. */
        assert_int_equal(tinfer_prefill(ctx, 2, t, 1), TINFER_E_CONTEXT_FULL);
        const history h = {.prompt = prompt, .n_prompt = 45, .tail = t, .n_tail = 1};
        assert_fresh(ctx, 1, model, o, h);
        /* Releasing seq 1 frees its copy: then seq 2 can go on, and seq 0 after it in place. */
        assert_int_equal(tinfer_kv_seq_clear(ctx, 1), TINFER_OK);
        assert_int_equal(free_tokens(ctx), 32);
        decode_one(ctx, 2, t[0]);
        decode_one(ctx, 0, t[0]);
        assert_int_equal(free_tokens(ctx), 0);
        assert_fresh(ctx, 2, model, o, h);
        assert_fresh(ctx, 0, model, o, h);
        tinfer_context_free(ctx);
    }
}

/* The random fill must not write into blocks a fork shares. */
static void fill_random_leaves_forks_alone(void **state) {
    (void)state;
    int32_t prompt[45], t[2];
    make_tokens(prompt, 45, 5);
    make_tokens(t, 2, 90);
    for (int m = 0; m < 2; m++) {
        const ctx_opts o = {.n_seq_max = 2, .n_kv_tokens = 0};
        tinfer_context *ctx = new_context(models[m].model, o);
        assert_int_equal(tinfer_prefill(ctx, 0, prompt, 45), TINFER_OK);
        assert_int_equal(tinfer_kv_seq_copy(ctx, 0, 1), TINFER_OK);
        assert_int_equal(tinfer_kv_seq_fill_random(ctx, 1, 40, 7), TINFER_OK);
        assert_int_equal(tinfer_kv_seq_fill_random(ctx, 1, 100, 7), TINFER_OK);
        decode_one(ctx, 0, t[0]);
        assert_fresh(ctx, 0, models[m].model, o,
                     (history){.prompt = prompt, .n_prompt = 45, .tail = t, .n_tail = 1});
        /* and the other way round: fork the filled one, fill the source again */
        assert_int_equal(tinfer_kv_seq_copy(ctx, 0, 1), TINFER_OK);
        assert_int_equal(tinfer_kv_seq_fill_random(ctx, 0, 10, 8), TINFER_OK);
        decode_one(ctx, 1, t[1]);
        assert_fresh(ctx, 1, models[m].model, o,
                     (history){.prompt = prompt, .n_prompt = 45, .tail = t, .n_tail = 2});
        tinfer_context_free(ctx);
    }
}

static void bad_arguments_are_refused(void **state) {
    (void)state;
    const tinfer_model *model = models[1].model;
    int32_t prompt[10];
    make_tokens(prompt, 10, 6);
    tinfer_context *ctx = new_context(model, (ctx_opts){.n_ctx = 64, .n_seq_max = 2});
    assert_int_equal(tinfer_prefill(ctx, 0, prompt, 10), TINFER_OK);
    float before[N_VOCAB];
    memcpy(before, tinfer_logits(ctx, 0), sizeof before);

    assert_int_equal(tinfer_kv_seq_copy(NULL, 0, 1), TINFER_E_INVALID_ARG);
    assert_string_equal(tinfer_last_error(), "tinfer_kv_seq_copy: ctx is NULL");
    assert_int_equal(tinfer_kv_seq_copy(ctx, 2, 1), TINFER_E_INVALID_ARG);
    assert_string_equal(tinfer_last_error(), "tinfer_kv_seq_copy: src 2 is outside [0, 2)");
    assert_int_equal(tinfer_kv_seq_copy(ctx, -1, 1), TINFER_E_INVALID_ARG);
    assert_string_equal(tinfer_last_error(), "tinfer_kv_seq_copy: src -1 is outside [0, 2)");
    assert_int_equal(tinfer_kv_seq_copy(ctx, 0, 2), TINFER_E_INVALID_ARG);
    assert_string_equal(tinfer_last_error(), "tinfer_kv_seq_copy: dst 2 is outside [0, 2)");
    assert_int_equal(tinfer_kv_seq_copy(ctx, 0, -7), TINFER_E_INVALID_ARG);
    assert_string_equal(tinfer_last_error(), "tinfer_kv_seq_copy: dst -7 is outside [0, 2)");
    size_t n = 0;
    assert_int_equal(tinfer_kv_free_tokens(NULL, &n), TINFER_E_INVALID_ARG);
    assert_string_equal(tinfer_last_error(), "tinfer_kv_free_tokens: ctx or n is NULL");
    assert_int_equal(tinfer_kv_free_tokens(ctx, NULL), TINFER_E_INVALID_ARG);

    /* src == dst: nothing happens. */
    const size_t free_before = free_tokens(ctx);
    assert_int_equal(tinfer_kv_seq_copy(ctx, 0, 0), TINFER_OK);
    assert_int_equal(seq_len(ctx, 0), 10);
    assert_memory_equal(before, tinfer_logits(ctx, 0), sizeof before);
    assert_int_equal(free_tokens(ctx), free_before);
    /* An empty src empties dst. */
    assert_int_equal(tinfer_kv_seq_copy(ctx, 1, 0), TINFER_OK);
    assert_int_equal(seq_len(ctx, 0), 0);
    assert_null(tinfer_logits(ctx, 0));
    assert_int_equal(free_tokens(ctx), 4 * 32);
    tinfer_context_free(ctx);

    /* The budget: at most n_seq_max × n_ctx (in whole blocks), rounded up to blocks. */
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    assert_int_equal(p.n_kv_tokens, 0);
    p.n_ctx = 40; /* two blocks */
    p.n_seq_max = 3;
    p.n_kv_tokens = 6 * 32 + 1;
    ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &p, sizeof p, &ctx), TINFER_E_INVALID_ARG);
    assert_string_equal(tinfer_last_error(),
                        "tinfer_context_create: n_kv_tokens = 193 exceeds n_seq_max × n_ctx = 192 "
                        "tokens (n_ctx in whole blocks of 32), more than the sequences can ever "
                        "hold");
    assert_null(ctx);
    tinfer_context_info info;
    assert_int_equal(tinfer_context_estimate(model, &p, sizeof p, &info, sizeof info),
                     TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "tinfer_context_estimate: n_kv_tokens = 193"));
    p.n_kv_tokens = 33;
    assert_int_equal(tinfer_context_estimate(model, &p, sizeof p, &info, sizeof info), TINFER_OK);
    assert_int_equal(info.n_kv_tokens, 64);
    assert_int_equal(tinfer_context_create(model, &p, sizeof p, &ctx), TINFER_OK);
    assert_int_equal(free_tokens(ctx), 64);
    /* 40 tokens fit n_ctx and the pool's two blocks; another sequence then finds no block. */
    int32_t more[40];
    make_tokens(more, 40, 7);
    assert_int_equal(tinfer_prefill(ctx, 0, more, 40), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 1, more, 1), TINFER_E_CONTEXT_FULL);
    assert_int_equal(seq_len(ctx, 1), 0);
    tinfer_context_free(ctx);
    /* A 0.2 program's struct (without n_kv_tokens) gets the default sizing. */
    p.n_kv_tokens = 12345;
    assert_int_equal(tinfer_context_estimate(model, &p,
                                             offsetof(tinfer_context_params, n_kv_tokens), &info,
                                             sizeof info),
                     TINFER_OK);
    assert_int_equal(info.n_kv_tokens, 3 * 64);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forks_decode_like_fresh_contexts),
        cmocka_unit_test(truncate_clear_and_prefill_after_a_fork),
        cmocka_unit_test(sixteen_forks_fit_one_prompt_plus_tails),
        cmocka_unit_test(failed_steps_undo_their_copies),
        cmocka_unit_test(fill_random_leaves_forks_alone),
        cmocka_unit_test(bad_arguments_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
