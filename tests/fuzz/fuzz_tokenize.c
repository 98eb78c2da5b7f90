/* libFuzzer target: the four real tokenizers (tests/data/tokenizers: Gemma 3, Llama 2, Llama 3,
 * Qwen3) on fuzzed text and fuzzed ids. Byte 0 picks the tokenizer and the flags; the rest is the
 * text, and read as ids (pairs of bytes) for whole vs streamed detokenization. Every streamed
 * piece must be valid UTF-8. Run from the repository root (or set TINFER_SOURCE_DIR). Built by
 * scripts/fuzz.sh. */
#include "fuzz_tokenizer_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tinfer_tokenizer *tokenizers[4];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    static const char *const names[] = {"gemma3", "llama2", "llama3", "qwen3"};
    const char *root = getenv("TINFER_SOURCE_DIR") ? getenv("TINFER_SOURCE_DIR") : ".";
    for (int i = 0; i < 4; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tests/data/tokenizers/%s", root, names[i]);
        if (tinfer_tokenizer_load(path, &tokenizers[i]) != TINFER_OK) {
            fprintf(stderr, "fuzz_tokenize: cannot load %s: %s\n", path, tinfer_last_error());
            exit(1);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const tinfer_tokenizer *t = tokenizers[data[0] % 4];
    uint32_t flags = (uint32_t)(data[0] >> 2) % 4;
    fuzz_check_tokenize(t, (const char *)data + 1, size - 1, flags, true);
    int32_t ids[256];
    size_t n = fuzz_ids_from_bytes(t, data + 1, size - 1, ids, 256);
    fuzz_check_detok(t, data[0] & 0x10 ? TINFER_DETOKENIZE_SKIP_SPECIAL : 0, ids, n, true);
    return 0;
}
