/* libFuzzer entry for the safetensors reader, built and run by scripts/fuzz.sh
 * (tests/fuzz/CMakeLists.txt); by hand, from the repository root, with the command below. */
// clang-format off
// clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -D_DEFAULT_SOURCE -DTINFER_STATIC_DEFINE -Iinclude -Ilib tests/fuzz/fuzz_safetensors.c lib/format/safetensors.c lib/format/metadata.c lib/format/tensor_table.c lib/core/error.c lib/core/arena.c lib/core/name_index.c $(pkg-config --cflags --libs jansson) -o fuzz_safetensors && ./fuzz_safetensors -max_len=4096
// clang-format on
/* Besides the sanitizers' checks, every accepted file must keep each tensor's bytes inside the
 * input and its byte count equal to its element count times the dtype size. */
#include <stddef.h>
#include <stdint.h>

#include "format/safetensors.h"

static uint64_t dtype_bytes(tinfer_dtype dtype) { return dtype == TINFER_DTYPE_F32 ? 4 : 2; }

static void check_tensors(const tf_tensor_table *tensors, const uint8_t *data, size_t size) {
    for (size_t i = 0; i < tensors->n_tensors; i++) {
        const tf_tensor *t = &tensors->tensors[i];
        if (t->data < data || t->file_offset > size || t->n_bytes > size - t->file_offset ||
            t->data != data + t->file_offset)
            __builtin_trap();
        if (t->n_bytes != t->n_elements * dtype_bytes(t->dtype)) __builtin_trap();
        if (t->n_dims < 1 || t->n_dims > TINFER_MAX_DIMS) __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tf_metadata meta = {0};
    tf_tensor_table tensors = {0};
    if (tf_safetensors_read(data, size, 0, &meta, &tensors) == TINFER_OK)
        check_tensors(&tensors, data, size);
    tf_tensor_table_free(&tensors);
    tf_metadata_free(&meta);
    return 0;
}
