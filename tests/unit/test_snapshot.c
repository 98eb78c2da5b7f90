/* KV snapshots (tinfer/snapshot.h) on tiny synthetic models of every architecture (gemma3 with
 * its sliding window and ring, llama, qwen2, qwen3), in every KV dtype:
 *  - save → load into a fresh context → decode: the logits equal (memcmp) those of the context
 *    that was saved, continuing without the round trip; the same with the target's ring larger
 *    or smaller than the saver's (another n_batch), into another slot, after a file round trip,
 *    from another process (fork), and for a whole context of several sequences;
 *  - hostile bytes: every truncation, flipped bytes in the header, the records and the payload,
 *    another model, another dtype, a context too small, a ring the context cannot hold: each
 *    gives its documented status and a message, and the target context is unchanged (its
 *    lengths, its logits, and its next decode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "synthetic_model.h"
#include "tinfer/tinfer.h"

#define N_VOCAB 96
#define MAX_SEQ 4

static const char *const ARCHS[] = {"gemma3", "llama", "qwen2", "qwen3"};
#define N_ARCHS 4

typedef struct fixture {
    tinfer_model *models[N_ARCHS];
    tinfer_model *gemma_other; /* gemma3 of the same shape with another RoPE base */
} fixture;

static synth_spec spec_of(const char *arch) {
    synth_spec spec = synth_gemma3();
    spec.arch = arch;
    if (strcmp(arch, "gemma3") != 0) spec.sliding_window = 0;
    return spec;
}

static int setup(void **state) {
    static fixture fx;
    char path[4096], name[64];
    for (int a = 0; a < N_ARCHS; a++) {
        synth_spec spec = spec_of(ARCHS[a]);
        snprintf(name, sizeof name, "snapshot_%s.gguf", ARCHS[a]);
        if (!synth_write(&spec, name, path, sizeof path)) return -1;
        if (tinfer_model_load(path, NULL, 0, &fx.models[a]) != TINFER_OK) return -1;
    }
    synth_spec other = spec_of("gemma3");
    other.rope_freq_base = 20000.0f;
    if (!synth_write(&other, "snapshot_gemma3_other.gguf", path, sizeof path)) return -1;
    if (tinfer_model_load(path, NULL, 0, &fx.gemma_other) != TINFER_OK) return -1;
    *state = &fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    for (int a = 0; a < N_ARCHS; a++) tinfer_model_free(fx->models[a]);
    tinfer_model_free(fx->gemma_other);
    return 0;
}

static tinfer_context *new_context(const tinfer_model *model, uint32_t n_ctx, uint32_t n_seq_max,
                                   uint32_t n_batch, tinfer_kv_dtype dtype) {
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = n_ctx;
    params.n_seq_max = n_seq_max;
    params.n_batch = n_batch;
    params.kv_dtype = dtype;
    params.n_threads = 1;
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &params, sizeof params, &ctx), TINFER_OK);
    return ctx;
}

static void make_tokens(int32_t *tokens, size_t n, uint32_t salt) {
    for (size_t i = 0; i < n; i++) tokens[i] = (int32_t)((i * 37 + salt * 11 + 3) % N_VOCAB);
}

static void prefill(tinfer_context *ctx, int32_t seq, size_t n, uint32_t salt) {
    int32_t tokens[512];
    assert_true(n <= 512);
    make_tokens(tokens, n, salt);
    assert_int_equal(tinfer_prefill(ctx, seq, tokens, n), TINFER_OK);
}

/* The snapshot of seq in a new buffer (of the bound's size); *len its bytes. */
static uint8_t *save(const tinfer_context *ctx, int32_t seq, int level, size_t *len) {
    tinfer_snapshot_params params;
    tinfer_snapshot_params_init(&params, sizeof params);
    params.zstd_level = level;
    size_t bound = 0;
    assert_int_equal(tinfer_snapshot_bound(ctx, seq, &params, sizeof params, &bound), TINFER_OK);
    uint8_t *buf = malloc(bound);
    assert_non_null(buf);
    if (tinfer_snapshot_save(ctx, seq, &params, sizeof params, buf, bound, len) != TINFER_OK)
        fail_msg("save: %s", tinfer_last_error());
    assert_true(*len <= bound);
    return buf;
}

static void load_ok(tinfer_context *ctx, int32_t seq, const uint8_t *buf, size_t len) {
    if (tinfer_snapshot_load(ctx, seq, buf, len) != TINFER_OK)
        fail_msg("load: %s", tinfer_last_error());
}

/* Decodes token into seq of both contexts and requires identical logits (memcmp). */
static void decode_both_equal(tinfer_context *a, int32_t seq_a, tinfer_context *b, int32_t seq_b,
                              int32_t token) {
    assert_int_equal(tinfer_decode(a, &seq_a, &token, 1), TINFER_OK);
    assert_int_equal(tinfer_decode(b, &seq_b, &token, 1), TINFER_OK);
    const float *la = tinfer_logits(a, seq_a), *lb = tinfer_logits(b, seq_b);
    assert_non_null(la);
    assert_non_null(lb);
    if (memcmp(la, lb, N_VOCAB * sizeof(float)) != 0)
        fail_msg("logits after the round trip differ (token %d)", token);
}

static void assert_same_logits(const tinfer_context *a, int32_t seq_a, const tinfer_context *b,
                               int32_t seq_b) {
    const float *la = tinfer_logits(a, seq_a), *lb = tinfer_logits(b, seq_b);
    assert_non_null(la);
    assert_non_null(lb);
    assert_memory_equal(la, lb, N_VOCAB * sizeof(float));
}

static size_t seq_len(const tinfer_context *ctx, int32_t seq) {
    size_t n = 0;
    assert_int_equal(tinfer_kv_seq_len(ctx, seq, &n), TINFER_OK);
    return n;
}

/* Every architecture and dtype; 150 tokens run far past gemma3's window (5) and, with
 * n_batch 8, past its ring (3 blocks); the target has the saver's ring, a larger one (n_batch
 * 64: 5 blocks) or a smaller one (saved with n_batch 64, loaded with 8), and takes the sequence
 * into slot 1. */
static void round_trip_every_arch_and_dtype(void **state) {
    fixture *fx = *state;
    const tinfer_kv_dtype dtypes[] = {TINFER_KV_F32, TINFER_KV_F16, TINFER_KV_Q8_0};
    const uint32_t source_batches[] = {8, 8, 64}, target_batches[] = {8, 64, 8};
    for (int a = 0; a < N_ARCHS; a++)
        for (int d = 0; d < 3; d++)
            for (int t = 0; t < 3; t++) {
                tinfer_context *src =
                    new_context(fx->models[a], 256, 1, source_batches[t], dtypes[d]);
                prefill(src, 0, 150, (uint32_t)a);
                size_t len = 0;
                uint8_t *snap = save(src, 0, 3, &len);
                float saved[N_VOCAB];
                memcpy(saved, tinfer_logits(src, 0), sizeof saved);

                tinfer_context *dst =
                    new_context(fx->models[a], 256, 2, target_batches[t], dtypes[d]);
                prefill(dst, 1, 20, 9); /* replaced by the load */
                load_ok(dst, 1, snap, len);
                assert_int_equal(seq_len(dst, 1), 150);
                assert_memory_equal(tinfer_logits(dst, 1), saved, sizeof saved);
                for (int32_t step = 0; step < 4; step++)
                    decode_both_equal(src, 0, dst, 1, (step * 13 + a) % N_VOCAB);
                /* Cutting back to the current length is always allowed, here as there. */
                assert_int_equal(tinfer_kv_seq_truncate(dst, 1, 154), TINFER_OK);
                free(snap);
                tinfer_context_free(src);
                tinfer_context_free(dst);
            }
}

/* Short prompts (no ring wrap), a prompt shorter than the window, and an empty sequence. */
static void round_trip_short_and_empty(void **state) {
    fixture *fx = *state;
    const size_t lengths[] = {1, 3, 31, 32, 33};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        tinfer_context *src = new_context(fx->models[0], 64, 1, 8, TINFER_KV_F16);
        prefill(src, 0, lengths[i], 2);
        size_t len = 0;
        uint8_t *snap = save(src, 0, 1, &len);
        tinfer_context *dst = new_context(fx->models[0], 64, 1, 8, TINFER_KV_F16);
        load_ok(dst, 0, snap, len);
        assert_same_logits(src, 0, dst, 0);
        decode_both_equal(src, 0, dst, 0, 7);
        free(snap);
        tinfer_context_free(src);
        tinfer_context_free(dst);
    }
    /* An empty sequence: the load clears the target slot. */
    tinfer_context *src = new_context(fx->models[0], 64, 1, 8, TINFER_KV_F32);
    size_t len = 0;
    uint8_t *snap = save(src, 0, 3, &len);
    tinfer_context *dst = new_context(fx->models[0], 64, 1, 8, TINFER_KV_F32);
    prefill(dst, 0, 10, 1);
    load_ok(dst, 0, snap, len);
    assert_int_equal(seq_len(dst, 0), 0);
    assert_null(tinfer_logits(dst, 0));
    free(snap);
    tinfer_context_free(src);
    tinfer_context_free(dst);
}

/* Three sequences (one empty, one truncated after running past the ring) saved as a whole and
 * loaded into a fresh context; the other context's slots the snapshot leaves empty are cleared. */
static void whole_context_round_trip(void **state) {
    fixture *fx = *state;
    tinfer_context *src = new_context(fx->models[0], 256, 3, 8, TINFER_KV_F16);
    prefill(src, 0, 120, 1);
    prefill(src, 2, 200, 2);
    assert_int_equal(tinfer_kv_seq_truncate(src, 2, 198), TINFER_OK);
    int32_t two = 2, tok = 5;
    assert_int_equal(tinfer_decode(src, &two, &tok, 1), TINFER_OK);
    size_t len = 0;
    uint8_t *snap = save(src, -1, 3, &len);

    tinfer_context *dst = new_context(fx->models[0], 256, 3, 8, TINFER_KV_F16);
    prefill(dst, 1, 30, 3);
    load_ok(dst, -1, snap, len);
    assert_int_equal(seq_len(dst, 0), 120);
    assert_int_equal(seq_len(dst, 1), 0);
    assert_int_equal(seq_len(dst, 2), 199);
    assert_same_logits(src, 0, dst, 0);
    assert_same_logits(src, 2, dst, 2);
    for (int step = 0; step < 3; step++) {
        const int32_t seqs[2] = {0, 2}, tokens[2] = {step + 1, step + 40};
        assert_int_equal(tinfer_decode(src, seqs, tokens, 2), TINFER_OK);
        assert_int_equal(tinfer_decode(dst, seqs, tokens, 2), TINFER_OK);
        assert_same_logits(src, 0, dst, 0);
        assert_same_logits(src, 2, dst, 2);
    }
    /* A whole-context snapshot needs seq = -1; a context with too few slots is refused. */
    assert_int_equal(tinfer_snapshot_load(dst, 0, snap, len), TINFER_E_INVALID_ARG);
    tinfer_context *small = new_context(fx->models[0], 256, 2, 8, TINFER_KV_F16);
    assert_int_equal(tinfer_snapshot_load(small, -1, snap, len), TINFER_E_CONTEXT_FULL);
    assert_non_null(strstr(tinfer_last_error(), "n_seq_max"));
    free(snap);
    tinfer_context_free(small);
    tinfer_context_free(src);
    tinfer_context_free(dst);
}

static void file_round_trip_and_other_process(void **state) {
    fixture *fx = *state;
    char path[4096];
    test_tmp_path(path, sizeof path, "snapshot_child.tfkv");
    remove(path);
    fflush(NULL);
    const pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* A process of its own: its own context, the same prompt, saved to a file. */
        tinfer_context_params params;
        tinfer_context_params_init(&params, sizeof params);
        params.n_ctx = 256;
        params.n_batch = 8;
        params.n_threads = 1;
        tinfer_context *ctx = NULL;
        int32_t tokens[150];
        make_tokens(tokens, 150, 4);
        int ok = tinfer_context_create(fx->models[0], &params, sizeof params, &ctx) == TINFER_OK &&
                 tinfer_prefill(ctx, 0, tokens, 150) == TINFER_OK &&
                 tinfer_snapshot_save_file(ctx, 0, NULL, 0, path) == TINFER_OK;
        tinfer_context_free(ctx);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    tinfer_context *here = new_context(fx->models[0], 256, 1, 8, TINFER_KV_F16);
    prefill(here, 0, 150, 4);
    tinfer_context *dst = new_context(fx->models[0], 256, 1, 8, TINFER_KV_F16);
    if (tinfer_snapshot_load_file(dst, 0, path) != TINFER_OK)
        fail_msg("load_file: %s", tinfer_last_error());
    assert_same_logits(here, 0, dst, 0);
    decode_both_equal(here, 0, dst, 0, 11);

    /* And back: saved here to a file, loaded in a third context. */
    char path2[4096];
    test_tmp_path(path2, sizeof path2, "snapshot_here.tfkv");
    assert_int_equal(tinfer_snapshot_save_file(here, 0, NULL, 0, path2), TINFER_OK);
    tinfer_context *third = new_context(fx->models[0], 256, 1, 8, TINFER_KV_F16);
    assert_int_equal(tinfer_snapshot_load_file(third, 0, path2), TINFER_OK);
    decode_both_equal(here, 0, third, 0, 12);
    /* A missing file is E_IO naming it. */
    remove(path2);
    assert_int_equal(tinfer_snapshot_load_file(third, 0, path2), TINFER_E_IO);
    assert_non_null(strstr(tinfer_last_error(), "snapshot_here.tfkv"));
    remove(path);
    tinfer_context_free(here);
    tinfer_context_free(dst);
    tinfer_context_free(third);
}

/* A target with some state, and what it must still hold after a failed load. */
typedef struct target {
    tinfer_context *ctx;
    tinfer_context *twin; /* the same state, never given a snapshot */
    size_t len;
    float logits[N_VOCAB];
} target;

static target new_target(const tinfer_model *model, uint32_t n_ctx, tinfer_kv_dtype dtype) {
    target t = {.ctx = new_context(model, n_ctx, 1, 8, dtype),
                .twin = new_context(model, n_ctx, 1, 8, dtype)};
    prefill(t.ctx, 0, 40, 7);
    prefill(t.twin, 0, 40, 7);
    t.len = 40;
    memcpy(t.logits, tinfer_logits(t.ctx, 0), sizeof t.logits);
    return t;
}

/* The message of the last refused load (later calls clear tinfer_last_error). */
static char refusal[1024];

/* A load that must fail with want (any of the two when want2 is not OK), say why, and leave the
 * target as it was. */
static void refused(target *t, int32_t seq, const uint8_t *buf, size_t len, tinfer_status want,
                    tinfer_status want2, const char *what) {
    const tinfer_status got = tinfer_snapshot_load(t->ctx, seq, buf, len);
    if (got != want && (want2 == TINFER_OK || got != want2))
        fail_msg("%s: status %s (%s), want %s", what, tinfer_status_str(got), tinfer_last_error(),
                 tinfer_status_str(want));
    if (tinfer_last_error()[0] == '\0') fail_msg("%s: no message", what);
    snprintf(refusal, sizeof refusal, "%s", tinfer_last_error());
    if (seq_len(t->ctx, 0) != t->len) fail_msg("%s: the target's length changed", what);
    if (memcmp(tinfer_logits(t->ctx, 0), t->logits, sizeof t->logits) != 0)
        fail_msg("%s: the target's logits changed", what);
}

static void finish_target(target *t) {
    decode_both_equal(t->ctx, 0, t->twin, 0, 17);
    tinfer_context_free(t->ctx);
    tinfer_context_free(t->twin);
}

static void truncated_and_corrupted_snapshots_are_refused(void **state) {
    fixture *fx = *state;
    tinfer_context *src = new_context(fx->models[0], 64, 1, 8, TINFER_KV_F32);
    prefill(src, 0, 12, 3);
    size_t len = 0;
    uint8_t *snap = save(src, 0, 3, &len);
    target t = new_target(fx->models[0], 64, TINFER_KV_F32);
    char what[64];

    for (size_t n = 0; n < len; n++) {
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", n, len);
        refused(&t, 0, snap, n, TINFER_E_FORMAT, TINFER_OK, what);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, snap, len);
    longer[len] = 0;
    refused(&t, 0, longer, len + 1, TINFER_E_FORMAT, TINFER_OK, "a trailing byte");
    free(longer);

    /* Every byte of the header and the record, then a stride through the payload. The version
     * field gives E_UNSUPPORTED (a newer format), every other byte E_FORMAT. */
    uint8_t *bad = malloc(len);
    for (size_t i = 0; i < len; i += i < 120 ? 1 : 37) {
        for (int bit = 0; bit < 8; bit += i < 120 ? 1 : 3) {
            memcpy(bad, snap, len);
            bad[i] ^= (uint8_t)(1u << bit);
            snprintf(what, sizeof what, "bit %d of byte %zu flipped", bit, i);
            const bool version = i >= 8 && i < 12;
            refused(&t, 0, bad, len, version ? TINFER_E_UNSUPPORTED : TINFER_E_FORMAT,
                    version ? TINFER_E_FORMAT : TINFER_OK, what);
        }
    }
    free(bad);
    /* NULL and nonsense. */
    refused(&t, 0, (const uint8_t *)"TFKVSNAP", 8, TINFER_E_FORMAT, TINFER_OK, "the magic alone");
    assert_int_equal(tinfer_snapshot_load(t.ctx, 0, NULL, 10), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_snapshot_load(t.ctx, 1, snap, len), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_snapshot_load(t.ctx, -1, snap, len), TINFER_E_INVALID_ARG);
    finish_target(&t);
    free(snap);
    tinfer_context_free(src);
}

static void snapshots_the_context_cannot_take_are_refused(void **state) {
    fixture *fx = *state;
    size_t len = 0;
    /* Another architecture (llama) into gemma3. */
    tinfer_context *llama = new_context(fx->models[1], 64, 1, 8, TINFER_KV_F32);
    prefill(llama, 0, 12, 1);
    uint8_t *snap = save(llama, 0, 3, &len);
    target t = new_target(fx->models[0], 64, TINFER_KV_F32);
    refused(&t, 0, snap, len, TINFER_E_UNSUPPORTED, TINFER_OK, "a llama snapshot");
    assert_non_null(strstr(refusal, "another model"));
    free(snap);
    tinfer_context_free(llama);

    /* The same shape, other metadata: only the fingerprint tells. */
    tinfer_context *other = new_context(fx->gemma_other, 64, 1, 8, TINFER_KV_F32);
    prefill(other, 0, 12, 1);
    snap = save(other, 0, 3, &len);
    refused(&t, 0, snap, len, TINFER_E_UNSUPPORTED, TINFER_OK, "another gemma3");
    assert_non_null(strstr(refusal, "fingerprint"));
    free(snap);
    tinfer_context_free(other);

    /* Another KV dtype (the target's is F32). */
    const struct {
        tinfer_kv_dtype dtype;
        const char *name, *what;
    } others[] = {{TINFER_KV_F16, "F16", "an F16 snapshot"},
                  {TINFER_KV_Q8_0, "Q8_0", "a Q8_0 snapshot"}};
    for (size_t o = 0; o < sizeof others / sizeof others[0]; o++) {
        tinfer_context *saver = new_context(fx->models[0], 64, 1, 8, others[o].dtype);
        prefill(saver, 0, 12, 1);
        snap = save(saver, 0, 3, &len);
        refused(&t, 0, snap, len, TINFER_E_UNSUPPORTED, TINFER_OK, others[o].what);
        assert_non_null(strstr(refusal, others[o].name));
        free(snap);
        tinfer_context_free(saver);
    }

    /* More tokens than the target's n_ctx. */
    tinfer_context *big = new_context(fx->models[0], 256, 1, 8, TINFER_KV_F32);
    prefill(big, 0, 100, 1);
    snap = save(big, 0, 3, &len);
    refused(&t, 0, snap, len, TINFER_E_CONTEXT_FULL, TINFER_OK, "100 tokens into n_ctx 64");
    assert_non_null(strstr(refusal, "n_ctx"));
    free(snap);
    finish_target(&t);

    /* A ring (n_batch 8, 150 tokens) into a context that keeps every position (n_ctx 256 with
     * n_batch 256: the ring would be longer than the sequence), which would lack the rows
     * before the ring's first. */
    prefill(big, 0, 50, 2);
    snap = save(big, 0, 3, &len);
    target full = {.ctx = new_context(fx->models[0], 256, 1, 256, TINFER_KV_F32),
                   .twin = new_context(fx->models[0], 256, 1, 256, TINFER_KV_F32),
                   .len = 40};
    prefill(full.ctx, 0, 40, 7);
    prefill(full.twin, 0, 40, 7);
    memcpy(full.logits, tinfer_logits(full.ctx, 0), sizeof full.logits);
    refused(&full, 0, snap, len, TINFER_E_UNSUPPORTED, TINFER_OK, "a ring into full storage");
    assert_non_null(strstr(refusal, "every position"));
    finish_target(&full);
    free(snap);
    tinfer_context_free(big);
}

static void params_and_buffers(void **state) {
    fixture *fx = *state;
    tinfer_snapshot_params params;
    tinfer_snapshot_params_init(&params, sizeof params);
    assert_int_equal(params.zstd_level, 3);
    assert_true(params.include_logits);
    tinfer_context *src = new_context(fx->models[2], 64, 1, 8, TINFER_KV_F32);
    prefill(src, 0, 20, 1);
    size_t bound = 0, written = 0;
    params.zstd_level = 20;
    assert_int_equal(tinfer_snapshot_bound(src, 0, &params, sizeof params, &bound),
                     TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "zstd_level"));
    params.zstd_level = 3;
    assert_int_equal(tinfer_snapshot_bound(src, 1, &params, sizeof params, &bound),
                     TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_snapshot_bound(src, 0, &params, sizeof params, &bound), TINFER_OK);
    uint8_t *buf = malloc(bound);
    assert_int_equal(tinfer_snapshot_save(src, 0, &params, sizeof params, buf, bound, &written),
                     TINFER_OK);
    size_t small = 0;
    assert_int_equal(tinfer_snapshot_save(src, 0, &params, sizeof params, buf, written - 1, &small),
                     TINFER_E_BUFFER_TOO_SMALL);
    assert_int_equal(tinfer_snapshot_save(src, 0, &params, sizeof params, buf, 10, &small),
                     TINFER_E_BUFFER_TOO_SMALL);

    /* The params travel with their size (tinfer.h): a size no version has is refused, a newer
     * caller's larger struct is taken when its extra bytes are zero. */
    assert_int_equal(tinfer_snapshot_bound(src, 0, &params, 2, &bound), TINFER_E_INVALID_ARG);
    struct {
        tinfer_snapshot_params p;
        uint64_t later;
    } newer;
    memset(&newer, 0, sizeof newer);
    tinfer_snapshot_params_init(&newer.p, sizeof newer);
    assert_int_equal(newer.p.zstd_level, 3);
    assert_int_equal(tinfer_snapshot_bound(src, 0, &newer.p, sizeof newer, &bound), TINFER_OK);
    newer.later = 1;
    assert_int_equal(tinfer_snapshot_bound(src, 0, &newer.p, sizeof newer, &bound),
                     TINFER_E_UNSUPPORTED);
    assert_int_equal(tinfer_snapshot_bound(src, 0, NULL, 0, &bound), TINFER_OK);

    /* Without logits: the load leaves none until the next decode, which still matches. */
    params.include_logits = false;
    size_t without = 0;
    assert_int_equal(tinfer_snapshot_save(src, 0, &params, sizeof params, buf, bound, &without),
                     TINFER_OK);
    assert_true(without < written);
    tinfer_context *dst = new_context(fx->models[2], 64, 1, 8, TINFER_KV_F32);
    load_ok(dst, 0, buf, without);
    assert_null(tinfer_logits(dst, 0));
    decode_both_equal(src, 0, dst, 0, 3);
    free(buf);
    tinfer_context_free(src);
    tinfer_context_free(dst);
}

/* (post-merge) A load into a slot that shares blocks with a fork leaves the other slot intact;
 * a pool too small for the snapshot refuses it and changes nothing. */
static void load_beside_forks_and_into_a_small_pool(void **state) {
    fixture *fx = *state;
    tinfer_context *src = new_context(fx->models[0], 256, 1, 8, TINFER_KV_F16);
    prefill(src, 0, 150, 5);
    size_t len = 0;
    uint8_t *snap = save(src, 0, 3, &len);
    tinfer_context *ctx = new_context(fx->models[0], 256, 2, 8, TINFER_KV_F16);
    tinfer_context *twin = new_context(fx->models[0], 256, 1, 8, TINFER_KV_F16);
    prefill(ctx, 0, 100, 6);
    prefill(twin, 0, 100, 6);
    assert_int_equal(tinfer_kv_seq_copy(ctx, 0, 1), TINFER_OK);
    load_ok(ctx, 1, snap, len);
    decode_both_equal(ctx, 0, twin, 0, 9);
    decode_both_equal(ctx, 1, src, 0, 9);

    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = 256;
    params.n_batch = 8;
    params.n_seq_max = 2;
    params.n_kv_tokens = 128;
    params.n_threads = 1;
    tinfer_context *small = NULL;
    assert_int_equal(tinfer_context_create(fx->models[0], &params, sizeof params, &small),
                     TINFER_OK);
    prefill(small, 0, 40, 7);
    assert_int_equal(tinfer_snapshot_load(small, 1, snap, len), TINFER_E_CONTEXT_FULL);
    size_t n = 0;
    assert_int_equal(tinfer_kv_seq_len(small, 0, &n), TINFER_OK);
    assert_int_equal(n, 40);
    free(snap);
    tinfer_context_free(src);
    tinfer_context_free(ctx);
    tinfer_context_free(twin);
    tinfer_context_free(small);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_every_arch_and_dtype),
        cmocka_unit_test(round_trip_short_and_empty),
        cmocka_unit_test(whole_context_round_trip),
        cmocka_unit_test(file_round_trip_and_other_process),
        cmocka_unit_test(truncated_and_corrupted_snapshots_are_refused),
        cmocka_unit_test(snapshots_the_context_cannot_take_are_refused),
        cmocka_unit_test(params_and_buffers),
        cmocka_unit_test(load_beside_forks_and_into_a_small_pool),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
