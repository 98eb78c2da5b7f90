/* libFuzzer entry point for the GGUF reader, built and run by scripts/fuzz.sh
 * (tests/fuzz/CMakeLists.txt); by hand, from the repository root:
 *   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -D_DEFAULT_SOURCE
 * -DTINFER_STATIC_DEFINE -Iinclude -Ilib tests/fuzz/fuzz_gguf.c lib/format/gguf.c
 * lib/format/metadata.c lib/format/tensor_table.c lib/quant/dtype.c lib/core/error.c
 * lib/core/arena.c lib/core/name_index.c -o fuzz_gguf && ./fuzz_gguf -max_len=4096 A successful
 * parse is walked end to end so the sanitizers see any pointer outside the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void touch(const void *bytes, uint64_t n_bytes) {
    if (n_bytes == 0) return;
    const uint8_t *at = bytes;
    sink ^= at[0] ^ at[n_bytes - 1];
}

static void walk_array(const tf_meta_array *array) {
    if (array->elem_type == TINFER_META_STRING) {
        for (uint64_t j = 0; j < array->n_elems; j++)
            touch(array->strings[j].ptr, array->strings[j].len);
    } else if (array->elem_type == TINFER_META_ARRAY) {
        for (uint64_t j = 0; j < array->n_elems; j++) walk_array(&array->nested[j].as.array);
    } else {
        touch(array->raw, array->n_elems * tf_meta_scalar_size(array->elem_type));
    }
}

static void walk(const tf_metadata *meta, const tf_tensor_table *tensors) {
    for (size_t i = 0; i < meta->n_entries; i++) {
        const tf_meta_value *value = &meta->entries[i].value;
        if (value->type == TINFER_META_STRING) sink ^= (uint8_t)strlen(value->as.str.ptr);
        if (value->type == TINFER_META_ARRAY) walk_array(&value->as.array);
    }
    for (size_t i = 0; i < tensors->n_tensors; i++)
        touch(tensors->tensors[i].data, tensors->tensors[i].n_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tf_metadata meta = {0};
    tf_tensor_table tensors = {0};
    uint32_t version;
    if (tf_gguf_read(data, size, 0, &meta, &tensors, &version) == TINFER_OK) walk(&meta, &tensors);
    tf_metadata_free(&meta);
    tf_tensor_table_free(&tensors);
    return 0;
}
