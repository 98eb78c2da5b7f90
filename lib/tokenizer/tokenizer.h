/* The tokenizer's entry points for the rest of the library: build one from a model's metadata
 * (GGUF tokenizer.ggml.* keys) or from a Hugging Face directory, and read what the chat-template
 * code needs. The public API (tinfer_tokenize, …) lives in tokenizer_api.c. */
#ifndef TINFER_TOKENIZER_TOKENIZER_H
#define TINFER_TOKENIZER_TOKENIZER_H

#include <stddef.h>

#include "format/metadata.h"
#include "tinfer/tinfer.h"

/* Builds a tokenizer from tokenizer.ggml.* keys (model "llama" = SentencePiece-style BPE with byte
 * fallback, "gpt2" = byte-level BPE with the pre-tokenizer named by tokenizer.ggml.pre). Copies
 * everything it keeps, so meta may be freed afterwards. E_NOT_FOUND when the metadata carries no
 * tokenizer, E_UNSUPPORTED for other models, E_FORMAT for malformed keys. */
tinfer_status tf_tokenizer_from_metadata(const tf_metadata *meta, tinfer_tokenizer **out);

/* Builds a tokenizer from a Hugging Face directory: tokenizer.json (or tokenizer.json.zst) and,
 * when present, tokenizer_config.json (or .zst) for special tokens and the chat template. */
tinfer_status tf_tokenizer_from_hf_dir(const char *dir, tinfer_tokenizer **out);

/* Builds a tokenizer from tokenizer.json text and optional tokenizer_config.json text
 * (config_text may be NULL). */
tinfer_status tf_tokenizer_from_hf_json(const char *json_text, size_t json_len,
                                        const char *config_text, size_t config_len,
                                        tinfer_tokenizer **out);

/* What tinfer_tokenizer_load does: a directory (tf_tokenizer_from_hf_dir), a GGUF file (found by
 * its magic), or a tokenizer.json[.zst] with its sibling tokenizer_config.json when present. */
tinfer_status tf_tokenizer_load_path(const char *path, tinfer_tokenizer **out);

/* Releases a tokenizer (the public tinfer_tokenizer_free; for the model's destructor). */
void tf_tokenizer_free(tinfer_tokenizer *t);

/* The Jinja chat template (GGUF tokenizer.chat_template or tokenizer_config.json chat_template),
 * and the text of the BOS/EOS tokens as the template sees them; NULL when absent. Owned by t. */
const char *tf_tokenizer_chat_template(const tinfer_tokenizer *t);
const char *tf_tokenizer_bos_text(const tinfer_tokenizer *t);
const char *tf_tokenizer_eos_text(const tinfer_tokenizer *t);
/* general.architecture of the GGUF file the tokenizer was read from ("gemma3", …), for choosing a
 * template when the file has none; NULL for a tokenizer.json. Owned by t. */
const char *tf_tokenizer_architecture(const tinfer_tokenizer *t);

#endif
