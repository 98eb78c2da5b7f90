/* config.json of a Hugging Face model → metadata under GGUF key names. The mapping happens here so
 * that everything downstream reads one set of keys whatever the file format. */
#ifndef TINFER_FORMAT_HF_CONFIG_H
#define TINFER_FORMAT_HF_CONFIG_H

#include <stddef.h>

#include "format/metadata.h"

/* Reads config.json text. Recognises model_type / architectures for llama, qwen2, qwen3, gemma3
 * (gemma3 configs may nest the text model under "text_config") and writes
 * general.architecture = "<arch>" and "<arch>.context_length", ".embedding_length",
 * ".block_count", ".feed_forward_length", ".attention.head_count", ".attention.head_count_kv",
 * ".attention.key_length", ".attention.value_length", ".attention.layer_norm_rms_epsilon",
 * ".rope.freq_base", ".attention.sliding_window", ".vocab_size", rope scaling keys, as GGUF files
 * from llama.cpp's converter name them. E_UNSUPPORTED for other model types, E_FORMAT for
 * malformed JSON or fields of the wrong type (message names the field). */
tinfer_status tf_hf_config_read(const char *json_text, size_t len, tf_metadata *meta);

#endif
