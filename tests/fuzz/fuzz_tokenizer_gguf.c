/* libFuzzer target: a tokenizer from GGUF metadata (tokenizer.ggml.* keys read by
 * tf_gguf_read, then tf_tokenizer_from_metadata), run as in fuzz_tokenizer_json.c. Built by
 * scripts/fuzz.sh. */
#include "format/gguf.h"
#include "fuzz_tokenizer_check.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const TEXTS[] = {"Hello world",
                                    "ab  c\n\tabc",
                                    "<s>a</s><unk>",
                                    "\342\226\201a b<start_of_turn>",
                                    "<|im_start|>\xC3\xA9\xF0\x9F\x98\x80\xFF",
                                    ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tf_metadata meta = {0};
    tf_tensor_table tensors = {0};
    uint32_t version;
    tinfer_tokenizer *t = NULL;
    if (tf_gguf_read(data, size, 0, &meta, &tensors, &version) == TINFER_OK &&
        tf_tokenizer_from_metadata(&meta, &t) == TINFER_OK) {
        for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0]; i++)
            fuzz_check_tokenize(t, TEXTS[i], strlen(TEXTS[i]), (uint32_t)i % 4, false);
        int32_t ids[32];
        size_t n = fuzz_ids_from_bytes(t, data + size / 2, size - size / 2, ids, 32);
        fuzz_check_detok(t, 0, ids, n, false);
        n = fuzz_ids_from_bytes(t, data, size, ids, 32);
        fuzz_check_detok(t, TINFER_DETOKENIZE_SKIP_SPECIAL, ids, n, false);
        tinfer_tokenizer_free(t);
    }
    tf_metadata_free(&meta);
    tf_tensor_table_free(&tensors);
    return 0;
}
