/* safetensors reader: an 8-byte header length, a JSON header, then the data section. */
#ifndef TINFER_FORMAT_SAFETENSORS_H
#define TINFER_FORMAT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "format/metadata.h"
#include "format/tensor_table.h"

/* Parses a whole .safetensors file held in bytes[0..size). Tensors go into tensors (data
 * pointers into bytes); "__metadata__" string entries go into meta under the key
 * "safetensors.<name>" (a second shard's entry with the same name and value is skipped, a
 * conflicting one is an error). Validation follows the reference implementation: header length
 * bounded, data_offsets inside the file, begin ≤ end, size = product(shape) × dtype size, no
 * overlaps, no holes, the data section fully covered. Dtypes F32/F16/BF16 are supported; others
 * give E_UNSUPPORTED naming the tensor. */
tinfer_status tf_safetensors_read(const uint8_t *bytes, size_t size, uint32_t file_index,
                                  tf_metadata *meta, tf_tensor_table *tensors);

/* Parses model.safetensors.index.json: fills *out_files (heap array of heap strings, free with
 * tf_safetensors_index_free) with the distinct shard file names in first-seen order, and checks
 * that each name is a plain file name (no '/', no "..") . */
tinfer_status tf_safetensors_index_read(const char *json_text, size_t len, char ***out_files,
                                        size_t *out_n_files);
void tf_safetensors_index_free(char **files, size_t n_files);

#endif
