/* tinfer-walkthrough: the whole of generation with the public API, in one file to read top to
 * bottom (doc/walkthrough.md explains each step).
 *
 *   tinfer-walkthrough MODEL PROMPT [MAX_TOKENS]
 *
 * Loads MODEL, wraps PROMPT as one user turn of the model's chat template (or, for a model
 * without one, takes it as plain text), generates greedily until an end-of-generation token or
 * MAX_TOKENS (default 64), streaming the text, then shows what a fork of the prompt, a snapshot of
 * the conversation and truncating the sequence do. Output: a "prompt: ..." line, the text
 * between "--- reply ---" and "--- end ---" lines, then the lines "ids: ...", "stopped: ...",
 * "fork: ...", "snapshot: ..." and "truncate: ...". Exit status 0, 1 on failure, 2 on bad
 * arguments. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinfer/tinfer.h"

/* Every fallible call returns a status; tinfer_last_error() says what went wrong, in this
 * thread, until the next call. */
static bool ok(tinfer_status status, const char *what) {
    if (status == TINFER_OK) return true;
    fprintf(stderr, "tinfer-walkthrough: %s: %s (%s)\n", what, tinfer_last_error(),
            tinfer_status_str(status));
    return false;
}

/* Step 2: the prompt as text. A chat model gets its own template, rendered by the library;
 * sizing the output first (buf NULL, cap 0) gives TINFER_E_BUFFER_TOO_SMALL and the length. A
 * model without a (recognised) template gives TINFER_E_UNSUPPORTED: use the text as it is. */
static tinfer_status render_prompt(const tinfer_tokenizer *tok, const char *user_text, char **text,
                                   bool *is_chat) {
    const tinfer_chat_msg msgs[] = {{.role = "user", .content = user_text}};
    const size_t n_msgs = sizeof msgs / sizeof msgs[0];
    size_t len = 0;
    tinfer_status status =
        tinfer_chat_apply(tok, msgs, n_msgs, sizeof msgs[0], true, NULL, 0, &len);
    *is_chat = status != TINFER_E_UNSUPPORTED;
    if (!*is_chat) len = strlen(user_text);
    else if (status != TINFER_E_BUFFER_TOO_SMALL && status != TINFER_OK) return status;
    if (!(*text = malloc(len + 1))) return TINFER_E_NOMEM;
    if (!*is_chat) {
        memcpy(*text, user_text, len + 1);
        return TINFER_OK;
    }
    return tinfer_chat_apply(tok, msgs, n_msgs, sizeof msgs[0], true, *text, len + 1, &len);
}

/* Step 3: text to token ids. The chat text already starts with BOS ("<bos>", "<s>") and holds
 * markers such as "<start_of_turn>": parse special-token text (PARSE_SPECIAL) but add nothing
 * (no ADD_SPECIAL), or the model would see BOS twice. Plain text gets the tokenizer's BOS. */
static tinfer_status tokenize(const tinfer_tokenizer *tok, const char *text, bool is_chat,
                              int32_t **ids, size_t *n_ids) {
    const uint32_t flags = is_chat ? TINFER_TOKENIZE_PARSE_SPECIAL : TINFER_TOKENIZE_DEFAULT;
    const size_t len = strlen(text), cap = tinfer_tokenize_bound(tok, len);
    if (!(*ids = malloc((cap ? cap : 1) * sizeof **ids))) return TINFER_E_NOMEM;
    return tinfer_tokenize(tok, text, len, flags, *ids, cap, n_ids);
}

/* Streams one token's text. The detokenizer holds back a character split across tokens, so
 * what it writes is always whole UTF-8. On TINFER_E_BUFFER_TOO_SMALL the token is not consumed:
 * grow the buffer to *len + 1 and push it again. */
static tinfer_status print_token(tinfer_detok_stream *stream, int32_t token, char **buf,
                                 size_t *cap) {
    size_t len = 0;
    tinfer_status status = tinfer_detok_stream_push(stream, token, *buf, *cap, &len);
    if (status == TINFER_E_BUFFER_TOO_SMALL) {
        char *grown = realloc(*buf, len + 1);
        if (!grown) return TINFER_E_NOMEM;
        *buf = grown;
        *cap = len + 1;
        status = tinfer_detok_stream_push(stream, token, *buf, *cap, &len);
    }
    if (status == TINFER_OK) fwrite(*buf, 1, len, stdout);
    return status;
}

/* Everything the program allocates, freed in one place (every free function accepts NULL). */
typedef struct walk {
    tinfer_model *model;
    tinfer_context *ctx, *resumed;
    tinfer_sampler *sampler;
    tinfer_detok_stream *stream;
    char *prompt_text, *piece;
    unsigned char *snapshot;
    int32_t *prompt, *generated;
    int32_t first_token; /* the first token sampled after the prompt (an end token too) */
    size_t n_prompt, n_generated, piece_cap;
} walk;

static void walk_free(walk *w) {
    tinfer_detok_stream_free(w->stream);
    tinfer_sampler_free(w->sampler);
    tinfer_context_free(w->resumed);
    tinfer_context_free(w->ctx);
    tinfer_model_free(w->model); /* after every context made from it */
    free(w->prompt_text);
    free(w->snapshot);
    free(w->prompt);
    free(w->generated);
    free(w->piece);
}

/* Step 7: the decode loop: sample from the logits, stop at an end-of-generation token (EOS, or
 * an end-of-turn token such as <end_of_turn>), print the token, and run it through the model to
 * get the next logits. The logits pointer is valid until the next call that changes sequence 0,
 * so it is read afresh every step. */
static bool generate(walk *w, const tinfer_tokenizer *tok, size_t max_tokens) {
    const size_t n_vocab = tinfer_context_n_vocab(w->ctx);
    const char *stopped = "max_tokens";
    printf("--- reply ---\n");
    while (w->n_generated < max_tokens) {
        int32_t token;
        if (!ok(tinfer_sampler_sample(w->sampler, tinfer_logits(w->ctx, 0), n_vocab, &token),
                "sample"))
            return false;
        if (w->n_generated == 0) w->first_token = token;
        if (tinfer_tokenizer_is_eog(tok, token)) {
            stopped = "eog"; /* the end token is not part of the reply, and not decoded */
            break;
        }
        tinfer_sampler_accept(w->sampler, token);
        w->generated[w->n_generated++] = token;
        if (!ok(print_token(w->stream, token, &w->piece, &w->piece_cap), "detokenize"))
            return false;
        fflush(stdout);
        if (w->n_generated == max_tokens) break; /* no next token is needed */
        const int32_t seq = 0;
        if (!ok(tinfer_decode(w->ctx, &seq, &token, 1), "decode")) return false;
    }
    size_t len = 0; /* the stream's last held-back bytes (a cut-off character becomes U+FFFD) */
    if (!ok(tinfer_detok_stream_flush(w->stream, w->piece, w->piece_cap, &len), "detokenize"))
        return false;
    printf("%s\n--- end ---\nids:", w->piece);
    for (size_t i = 0; i < w->n_generated; i++) printf(" %d", (int)w->generated[i]);
    printf("\nstopped: %s after %zu tokens\n", stopped, w->n_generated);
    return true;
}

/* Step 8: a fork. Right after the prompt, sequence 0 was forked into sequence 1
 * (tinfer_kv_seq_copy in run): both share the prompt's cached blocks — the fork took no pool
 * space — and its logits, and each goes on alone. Sequence 0 has since decoded the reply;
 * sequence 1 still stands after the prompt, so greedy picks the reply's first token there: a
 * second answer to the same prompt (another seed, another system turn) needs no second
 * prefill. */
static bool sample_the_fork(walk *w, size_t free_before, size_t free_after) {
    int32_t token;
    if (!ok(tinfer_sampler_sample(w->sampler, tinfer_logits(w->ctx, 1),
                                  tinfer_context_n_vocab(w->ctx), &token),
            "sample the fork"))
        return false;
    printf("fork: pool space taken %zu tokens; first token: %d (%s the reply's)\n",
           free_before - free_after, (int)token, token == w->first_token ? "same as" : "unlike");
    return ok(tinfer_kv_seq_clear(w->ctx, 1), "clear the fork");
}

/* Step 9: a snapshot. Sequence 0 (prompt, reply and the last logits) saved as zstd-compressed
 * bytes — size them with tinfer_snapshot_bound, then save — and loaded into a fresh context,
 * which then holds the conversation without running it again: its logits are the same bits.
 * tinfer_snapshot_save_file / _load_file do the same through a file, to resume tomorrow or in
 * another process. A snapshot of another model, or damaged bytes, is refused with nothing
 * changed. */
static bool snapshot_and_resume(walk *w, const tinfer_context_params *cp) {
    size_t bound = 0, written = 0;
    if (!ok(tinfer_snapshot_bound(w->ctx, 0, NULL, 0, &bound), "snapshot size")) return false;
    if (!(w->snapshot = malloc(bound ? bound : 1))) return ok(TINFER_E_NOMEM, "snapshot");
    if (!ok(tinfer_snapshot_save(w->ctx, 0, NULL, 0, w->snapshot, bound, &written), "save") ||
        !ok(tinfer_context_create(w->model, cp, sizeof *cp, &w->resumed), "a second context") ||
        !ok(tinfer_snapshot_load(w->resumed, 0, w->snapshot, written), "load"))
        return false;
    size_t n_saved = 0, n_loaded = 0;
    tinfer_kv_seq_len(w->ctx, 0, &n_saved);
    tinfer_kv_seq_len(w->resumed, 0, &n_loaded);
    const float *before = tinfer_logits(w->ctx, 0), *after = tinfer_logits(w->resumed, 0);
    const bool same = before && after && n_saved == n_loaded &&
                      memcmp(before, after, tinfer_context_n_vocab(w->ctx) * sizeof *before) == 0;
    printf("snapshot: %zu tokens in %zu bytes; logits after loading: %s\n", n_loaded, written,
           same ? "identical" : "different");
    return true;
}

/* Step 10: truncation. Keeping the first n tokens of a sequence forgets the rest and its logits:
 * tinfer_logits gives NULL until something runs again. To sample after the prompt once more,
 * keep all but its last token and prefill that one again. With sliding-window layers (Gemma 3)
 * a long sequence cannot be cut back far: E_UNSUPPORTED, and then clearing the sequence and
 * prefilling the whole prompt always works. */
static bool truncate_and_resume(walk *w) {
    if (!ok(tinfer_kv_seq_truncate(w->ctx, 0, w->n_prompt), "truncate")) return false;
    const bool logits_dropped = tinfer_logits(w->ctx, 0) == NULL;
    tinfer_status status = tinfer_kv_seq_truncate(w->ctx, 0, w->n_prompt - 1);
    if (status == TINFER_OK) status = tinfer_prefill(w->ctx, 0, w->prompt + w->n_prompt - 1, 1);
    else if (status == TINFER_E_UNSUPPORTED && ok(tinfer_kv_seq_clear(w->ctx, 0), "clear"))
        status = tinfer_prefill(w->ctx, 0, w->prompt, w->n_prompt);
    if (!ok(status, "prefill after truncating")) return false;
    tinfer_sampler_reset(w->sampler); /* greedy needs no history, but a sampling run would */
    int32_t again;
    if (!ok(tinfer_sampler_sample(w->sampler, tinfer_logits(w->ctx, 0),
                                  tinfer_context_n_vocab(w->ctx), &again),
            "sample"))
        return false;
    printf("truncate: logits %s; first token again: %d\n",
           logits_dropped ? "dropped" : "kept (unexpected)", (int)again);
    return true;
}

static bool run(walk *w, const char *model_path, const char *user_text, size_t max_tokens) {
    /* Step 1: load. NULL params are the defaults (the file is mapped, not copied). The model is
     * immutable; its tokenizer belongs to it and is freed with it. */
    if (!ok(tinfer_model_load(model_path, NULL, 0, &w->model), "loading the model")) return false;
    const tinfer_tokenizer *tok = tinfer_model_tokenizer(w->model);
    if (!tok) {
        fprintf(stderr, "tinfer-walkthrough: the model carries no tokenizer\n");
        return false;
    }

    /* Steps 2 and 3: chat template, then token ids. */
    bool is_chat = false;
    if (!ok(render_prompt(tok, user_text, &w->prompt_text, &is_chat), "chat template") ||
        !ok(tokenize(tok, w->prompt_text, is_chat, &w->prompt, &w->n_prompt), "tokenizing"))
        return false;
    if (w->n_prompt == 0) {
        fprintf(stderr, "tinfer-walkthrough: the prompt has no tokens\n");
        return false;
    }
    printf("prompt: %zu tokens (%s)\n", w->n_prompt, is_chat ? "chat template" : "plain text");

    /* Step 4: a context with room for the prompt and the reply. Params structs are filled by
     * *_params_init and passed with their size, so a program built against an older header
     * keeps working with a newer library. Everything is allocated here; decoding never is. */
    tinfer_context_params cp;
    tinfer_context_params_init(&cp, sizeof cp);
    cp.n_ctx = (uint32_t)(w->n_prompt + max_tokens);
    cp.n_seq_max = 2; /* the conversation, and a fork of its prompt (step 8) */
    if (!ok(tinfer_context_create(w->model, &cp, sizeof cp, &w->ctx), "creating the context"))
        return false;

    /* Step 5: a sampler. temperature 0 is greedy (the most likely token, the lowest id on a
     * tie); raise it and set seed for sampling. */
    tinfer_sampler_params sp;
    tinfer_sampler_params_init(&sp, sizeof sp);
    sp.temperature = 0.0f;
    const size_t n_vocab = tinfer_context_n_vocab(w->ctx);
    if (!ok(tinfer_sampler_create(&sp, sizeof sp, n_vocab, &w->sampler), "sampler")) return false;
    for (size_t i = 0; i < w->n_prompt; i++) tinfer_sampler_accept(w->sampler, w->prompt[i]);

    if (!ok(tinfer_detok_stream_create(tok, TINFER_DETOKENIZE_SKIP_SPECIAL, &w->stream),
            "detokenizer"))
        return false;
    w->piece_cap = 64;
    if (!(w->piece = malloc(w->piece_cap)) ||
        !(w->generated = malloc(max_tokens * sizeof *w->generated))) {
        fprintf(stderr, "tinfer-walkthrough: out of memory\n");
        return false;
    }

    /* Step 6: prefill. The whole prompt goes through the model in one call (in batches inside);
     * afterwards tinfer_logits(ctx, 0) is the next-token distribution after its last token. */
    if (!ok(tinfer_prefill(w->ctx, 0, w->prompt, w->n_prompt), "prefill")) return false;

    /* Step 8 begins: fork the prompt into sequence 1 before sequence 0 moves on. */
    size_t free_before = 0, free_after = 0;
    if (!ok(tinfer_kv_free_tokens(w->ctx, &free_before), "free tokens") ||
        !ok(tinfer_kv_seq_copy(w->ctx, 0, 1), "fork") ||
        !ok(tinfer_kv_free_tokens(w->ctx, &free_after), "free tokens"))
        return false;

    return generate(w, tok, max_tokens) && sample_the_fork(w, free_before, free_after) &&
           snapshot_and_resume(w, &cp) && truncate_and_resume(w);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: tinfer-walkthrough MODEL PROMPT [MAX_TOKENS]\n");
        return 2;
    }
    const long max_tokens = argc == 4 ? strtol(argv[3], NULL, 10) : 64;
    if (max_tokens < 1 || max_tokens > 100000) {
        fprintf(stderr, "tinfer-walkthrough: MAX_TOKENS must be in 1 .. 100000\n");
        return 2;
    }
    walk w = {0};
    int rc = run(&w, argv[1], argv[2], (size_t)max_tokens) ? 0 : 1;
    walk_free(&w);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tinfer-walkthrough: writing the output failed\n");
        rc = 1;
    }
    return rc;
}
