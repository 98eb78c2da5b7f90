/* GGUF reader (versions 2 and 3, little-endian): metadata and tensor infos from a file's bytes. */
#ifndef TINFER_FORMAT_GGUF_H
#define TINFER_FORMAT_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "format/metadata.h"
#include "format/tensor_table.h"

/* True when the bytes start with the GGUF magic. */
bool tf_gguf_has_magic(const uint8_t *bytes, size_t size);

/* Parses a whole GGUF file held in bytes[0..size) (mapped or read). Adds every key/value to meta
 * and every tensor to tensors (data pointers into bytes, file_index recorded). Treats the bytes as
 * hostile: every count, length, dimension and offset is checked against size with overflow-safe
 * arithmetic before use. On failure returns E_FORMAT / E_UNSUPPORTED / E_NOMEM with a message
 * naming the field; meta and tensors may hold partial content and are freed by the caller. */
tinfer_status tf_gguf_read(const uint8_t *bytes, size_t size, uint32_t file_index,
                           tf_metadata *meta, tf_tensor_table *tensors, uint32_t *out_version);

#endif
