/* libtinfer tokenizer API: included by tinfer/tinfer.h; do not include it alone. */
#ifndef TINFER_TOKENIZER_H
#define TINFER_TOKENIZER_H
#ifndef TINFER_TINFER_H
#error "include tinfer/tinfer.h, not tinfer/tokenizer.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Tokenizer: byte-pair encoding as Hugging Face `tokenizers` does it, for SentencePiece-style
 * vocabularies with byte fallback (Gemma, Llama 2) and byte-level ones (Llama 3, Qwen 2/2.5/3).
 * A tokenizer is immutable once loaded and may be used from any number of threads at once.
 * Text is UTF-8; invalid bytes are read as U+FFFD, each maximal invalid sequence as one (as
 * Python's bytes.decode(errors="replace")). Token ids are int32_t in [0, n_vocab).
 * Output buffers: when one is too small the call returns TINFER_E_BUFFER_TOO_SMALL and stores
 * the size needed in the same length argument, writing nothing else.
 * Since 0.1.
 * ------------------------------------------------------------------------------------------- */
typedef struct tinfer_tokenizer tinfer_tokenizer;

/* Loads a tokenizer alone, without weights: a tokenizer.json, a directory holding one (with its
 * tokenizer_config.json when present), either compressed as .zst, or a .gguf file (its
 * tokenizer.ggml.* keys). Free with tinfer_tokenizer_free. Since 0.1. */
TINFER_API tinfer_status tinfer_tokenizer_load(const char *path, tinfer_tokenizer **out);
/* Releases a tokenizer from tinfer_tokenizer_load; NULL is a no-op. Since 0.1. */
TINFER_API void tinfer_tokenizer_free(tinfer_tokenizer *tokenizer);
/* The tokenizer that came with a model (GGUF tokenizer.ggml.* keys, or tokenizer.json in an HF
 * directory); NULL when the model has none. Owned by the model: do not free it. Since 0.1. */
TINFER_API const tinfer_tokenizer *tinfer_model_tokenizer(const tinfer_model *model);

/* Number of token ids (one past the largest id). Since 0.1. */
TINFER_API size_t tinfer_tokenizer_n_vocab(const tinfer_tokenizer *tokenizer);

/* Flags of tinfer_tokenize. TINFER_TOKENIZE_DEFAULT behaves as Hugging Face's
 * Tokenizer.encode(text): special tokens added by the tokenizer's post-processor, special-token
 * text in the input read as those tokens. Since 0.1. */
#define TINFER_TOKENIZE_ADD_SPECIAL 0x1u   /* add BOS/EOS as the tokenizer's configuration says */
#define TINFER_TOKENIZE_PARSE_SPECIAL 0x2u /* "<bos>" in the text is the special token, not text */
#define TINFER_TOKENIZE_DEFAULT (TINFER_TOKENIZE_ADD_SPECIAL | TINFER_TOKENIZE_PARSE_SPECIAL)

/* A number of tokens that tinfer_tokenize never exceeds for text_len bytes of input. Since 0.1. */
TINFER_API size_t tinfer_tokenize_bound(const tinfer_tokenizer *tokenizer, size_t text_len);
/* Tokenizes text[0..len) into tokens[0..cap); *n_tokens receives the count (or, with
 * TINFER_E_BUFFER_TOO_SMALL, the count needed). Since 0.1. */
TINFER_API tinfer_status tinfer_tokenize(const tinfer_tokenizer *tokenizer, const char *text,
                                         size_t len, uint32_t flags, int32_t *tokens, size_t cap,
                                         size_t *n_tokens);

/* Flags of tinfer_detokenize and the stream. Since 0.1. */
#define TINFER_DETOKENIZE_SKIP_SPECIAL 0x1u /* leave out special tokens, as Hugging Face's
                                               decode(skip_special_tokens=True) */

/* Turns tokens[0..n) into text as Hugging Face's decode does, NUL-terminated in buf[0..cap);
 * *len receives its length without the NUL (the length needed when cap is not larger). An id
 * out of range is TINFER_E_INVALID_ARG. Since 0.1. */
TINFER_API tinfer_status tinfer_detokenize(const tinfer_tokenizer *tokenizer,
                                           const int32_t *tokens, size_t n, uint32_t flags,
                                           char *buf, size_t cap, size_t *len);
/* The bytes one token contributes to detokenized text (may be part of a UTF-8 character, e.g.
 * one byte for "<0xE2>"), NUL-terminated; same buffer rules as tinfer_detokenize. Since 0.1. */
TINFER_API tinfer_status tinfer_token_piece(const tinfer_tokenizer *tokenizer, int32_t id,
                                            char *buf, size_t cap, size_t *len);

/* Since 0.1. */
typedef enum tinfer_special_token {
    TINFER_TOKEN_BOS = 0,
    TINFER_TOKEN_EOS = 1,
    TINFER_TOKEN_PAD = 2,
    TINFER_TOKEN_UNK = 3
} tinfer_special_token;

/* The id of a special token; TINFER_E_NOT_FOUND when the tokenizer has none. Since 0.1. */
TINFER_API tinfer_status tinfer_tokenizer_special(const tinfer_tokenizer *tokenizer,
                                                  tinfer_special_token which, int32_t *id);
/* True when id ends a generation: EOS, or an end-of-turn token such as <end_of_turn>,
 * <|eot_id|>, <|im_end|>. Since 0.1. */
TINFER_API bool tinfer_tokenizer_is_eog(const tinfer_tokenizer *tokenizer, int32_t id);

/* Incremental detokenizer for streaming: feed tokens one at a time and get the text that is now
 * certain; a character split across tokens is held back until complete, so the output never
 * contains a broken UTF-8 sequence. The concatenated output equals tinfer_detokenize of all the
 * tokens (except that a Strip decoder's trailing strip is not applied). Since 0.1. */
typedef struct tinfer_detok_stream tinfer_detok_stream;

/* flags: TINFER_DETOKENIZE_*. The tokenizer must outlive the stream. Since 0.1. */
TINFER_API tinfer_status tinfer_detok_stream_create(const tinfer_tokenizer *tokenizer,
                                                    uint32_t flags, tinfer_detok_stream **out);
/* Adds one token; writes the newly certain text (NUL-terminated, possibly empty) to buf. With
 * TINFER_E_BUFFER_TOO_SMALL the token is not consumed: call again with *len + 1 bytes.
 * Since 0.1. */
TINFER_API tinfer_status tinfer_detok_stream_push(tinfer_detok_stream *stream, int32_t id,
                                                  char *buf, size_t cap, size_t *len);
/* Ends the stream: writes what is held back (an incomplete character as U+FFFD) and resets it.
 * Since 0.1. */
TINFER_API tinfer_status tinfer_detok_stream_flush(tinfer_detok_stream *stream, char *buf,
                                                   size_t cap, size_t *len);
/* Releases a stream; NULL is a no-op. Since 0.1. */
TINFER_API void tinfer_detok_stream_free(tinfer_detok_stream *stream);

/* ---- Chat templates ---- */

/* One chat message; role is "system", "user" or "assistant". Both NUL-terminated UTF-8, owned
 * by the caller. Arrays of messages travel with their stride, sizeof(tinfer_chat_msg), so fields
 * added later do not move the elements of an older program's array. Since 0.1. */
typedef struct tinfer_chat_msg {
    const char *role;
    const char *content;
} tinfer_chat_msg;

/* Renders msgs as the tokenizer's chat_template renders them under Jinja, byte for byte, without
 * executing anything: only recognised templates (Gemma 3, Llama 2 chat, Llama 3 instruct, ChatML,
 * Qwen3). NUL-terminated output; *len = length without the NUL, also set with
 * TINFER_E_BUFFER_TOO_SMALL (buf NULL and cap 0 measure). E_UNSUPPORTED: no or an unrecognised
 * template, or tool messages. E_INVALID_ARG: NULL arguments, an unknown role, or a conversation
 * the template rejects (the message carries the template's text). The output already holds BOS:
 * tokenize it with TINFER_TOKENIZE_PARSE_SPECIAL and without ADD_SPECIAL. msg_size is
 * sizeof(tinfer_chat_msg), the distance between elements of msgs: a size no version of the
 * struct has is E_INVALID_ARG, and a newer header's extra fields must be zero (E_UNSUPPORTED
 * otherwise). Since 0.1 (msg_size since 0.2). */
TINFER_API tinfer_status tinfer_chat_apply(const tinfer_tokenizer *tokenizer,
                                           const tinfer_chat_msg *msgs, size_t n, size_t msg_size,
                                           bool add_generation_prompt, char *buf, size_t cap,
                                           size_t *len);

#ifdef __cplusplus
}
#endif

#endif
