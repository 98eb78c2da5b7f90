/* Element types' block geometry: how many elements a block holds and how many bytes it takes. */
#ifndef TINFER_QUANT_DTYPE_H
#define TINFER_QUANT_DTYPE_H

#include <stdbool.h>
#include <stdint.h>

#include "tinfer/tinfer.h"

typedef struct tf_dtype_traits {
    const char *name;
    uint32_t block_elems; /* elements per block (1 for plain types) */
    uint32_t block_bytes; /* bytes per block */
} tf_dtype_traits;

/* Traits of a dtype id from a file; NULL for ids that are not known types (never index a table
 * with an unchecked id). */
const tf_dtype_traits *tf_dtype_traits_of(uint32_t dtype_id);

/* Bytes of a tensor with this row length and row count. E_FORMAT when the row length is not a
 * multiple of the block size or the size overflows; the message names what_for. */
tinfer_status tf_dtype_tensor_bytes(tinfer_dtype dtype, uint64_t row_elems, uint64_t n_rows,
                                    const char *what_for, uint64_t *out_bytes);

#endif
