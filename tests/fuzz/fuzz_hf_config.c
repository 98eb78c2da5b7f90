/* libFuzzer target: a Hugging Face config.json (tf_hf_config_read, lib/format/hf_config.c). An
 * accepted file must name its architecture. Built by scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/hf_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tf_metadata meta = {0};
    if (tf_hf_config_read((const char *)data, size, &meta) == TINFER_OK) {
        const char *arch = tf_meta_get_str(&meta, "general.architecture");
        if (!arch) __builtin_trap();
        sink += strlen(arch) + meta.n_entries;
    }
    tf_metadata_free(&meta);
    return 0;
}
