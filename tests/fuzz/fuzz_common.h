/* Shared by the fuzz targets and make_seeds.c: the tiny models and tokenizers the seeds and the
 * fixed inputs are built from, and small helpers. Header-only (static functions). */
#ifndef TINFER_FUZZ_COMMON_H
#define TINFER_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures/gguf_writer.h"
#include "tinfer/tinfer.h"
#include "unit/synthetic_model.h"

/* The model the whole-model target mutates: one layer, widths of one quant block. */
static inline synth_spec fuzz_model_spec(void) {
    return (synth_spec){.arch = "llama",
                        .n_vocab = 16,
                        .n_embd = 32,
                        .n_layer = 1,
                        .n_head = 2,
                        .n_head_kv = 1,
                        .head_dim = 16,
                        .n_ff = 32,
                        .matrix_type = 1 /* F16 */};
}

/* The snapshot target's model: a Gemma 3 of six layers (the last global, the others with a window
 * of 5), so snapshots carry a sliding-window ring (n_batch 8: 3 blocks, 96 positions) as well as
 * global layers, with rows small enough (64 bytes per layer in F16) that a snapshot past the ring
 * stays a few kilobytes. */
#define FUZZ_SNAPSHOT_VOCAB 32
static inline synth_spec fuzz_snapshot_spec(void) {
    synth_spec spec = synth_gemma3();
    spec.n_vocab = FUZZ_SNAPSHOT_VOCAB;
    spec.n_embd = 32;
    spec.n_layer = 6;
    spec.n_head = 2;
    spec.n_head_kv = 1;
    spec.head_dim = 16;
    spec.n_ff = 32;
    return spec;
}

/* The snapshot target's contexts: n_ctx 128, two slots, n_batch 8, one thread. */
static inline tinfer_context *fuzz_snapshot_context(const tinfer_model *model,
                                                    tinfer_kv_dtype dtype) {
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = 128;
    params.n_seq_max = 2;
    params.n_batch = 8;
    params.n_threads = 1;
    params.kv_dtype = dtype;
    tinfer_context *ctx = NULL;
    return tinfer_context_create(model, &params, sizeof params, &ctx) == TINFER_OK ? ctx : NULL;
}

/* n prompt tokens of the snapshot target (salt varies them). */
static inline void fuzz_snapshot_tokens(int32_t *tokens, size_t n, uint32_t salt) {
    for (size_t i = 0; i < n; i++) tokens[i] = (int32_t)((i * 37 + salt * 11 + 3) % FUZZ_SNAPSHOT_VOCAB);
}

/* A GGUF tokenizer of the given model kind ("llama": SentencePiece with scores and byte tokens;
 * "gpt2": byte-level BPE with merges) over a tiny vocabulary, keys only. */
static inline void fuzz_tokenizer_keys(gguf_writer *w, const char *kind) {
    static const char *const byte_texts[] = {"<0x00>", "<0x41>", "<0xC3>", "<0xA9>",
                                             "<0xE2>", "<0x96>", "<0x81>", "<0xFF>"};
    const char *texts[64];
    float scores[64];
    int32_t types[64];
    size_t n = 0;
    gw_kv_str(w, "tokenizer.ggml.model", kind);
    if (strcmp(kind, "gpt2") == 0) {
        static const char *const vocab[] = {
            "<|endoftext|>", "a",         "b", "c", " ", "\xC4\xA0", "ab", "\304\240a", "abc",
            "<|im_start|>",  "<|im_end|>"};
        static const char *const merges[] = {"a b", "\xC4\xA0 a", "ab c"};
        for (size_t i = 0; i < sizeof vocab / sizeof vocab[0]; i++) {
            texts[n] = vocab[i];
            types[n++] = i == 0 || i >= 9 ? 3 : 1;
        }
        gw_kv_str(w, "tokenizer.ggml.pre", "qwen2");
        gw_kv_str_array(w, "tokenizer.ggml.merges", 3, merges);
    } else {
        static const char *const vocab[] = {
            "<unk>", "<s>",           "</s>", "\xE2\x96\x81",    "a",
            "b",     "\342\226\201a", "ab",   "<start_of_turn>", "<end_of_turn>"};
        for (size_t i = 0; i < sizeof vocab / sizeof vocab[0]; i++) {
            texts[n] = vocab[i];
            scores[n] = -(float)i;
            types[n++] = i < 3 ? (i == 0 ? 2 : 3) : (i >= 8 ? 3 : 1);
        }
        for (size_t i = 0; i < sizeof byte_texts / sizeof byte_texts[0]; i++) {
            texts[n] = byte_texts[i];
            scores[n] = 0;
            types[n++] = 6;
        }
        gw_kv_array(w, "tokenizer.ggml.scores", TINFER_META_F32, n, scores);
        gw_kv_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    }
    gw_kv_str_array(w, "tokenizer.ggml.tokens", n, texts);
    gw_kv_array(w, "tokenizer.ggml.token_type", TINFER_META_I32, n, types);
    gw_kv_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gw_kv_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gw_kv_bool(w, "tokenizer.ggml.add_bos_token", true);
}

/* Writes bytes to a private temporary file (for entry points that take a path); returns the
 * path in buf, or NULL. One file per process, rewritten each time. */
static inline const char *fuzz_temp_file(const void *bytes, size_t size, const char *suffix,
                                         char *buf, size_t cap) {
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(buf, cap, "%s/tinfer-fuzz-%ld%s", dir, (long)getpid(), suffix);
    FILE *f = fopen(buf, "wb");
    if (!f) return NULL;
    int ok = fwrite(bytes, 1, size, f) == size;
    ok &= fclose(f) == 0;
    return ok ? buf : NULL;
}

#endif
