/* libFuzzer target: model.safetensors.index.json (tf_safetensors_index_read). Every accepted
 * shard name must be a plain file name, as the reader promises. Built by scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char **files = NULL;
    size_t n_files = 0;
    if (tf_safetensors_index_read((const char *)data, size, &files, &n_files) == TINFER_OK) {
        for (size_t i = 0; i < n_files; i++)
            if (!files[i][0] || strchr(files[i], '/') || strcmp(files[i], "..") == 0)
                __builtin_trap();
        tf_safetensors_index_free(files, n_files);
    }
    return 0;
}
