/* libFuzzer target: tokenizer.json (and tokenizer_config.json after a "\n\x01\n" separator)
 * through tf_tokenizer_from_hf_json, the in-memory core of tinfer_tokenizer_load; a tokenizer
 * that loads is run on fixed texts and on ids taken from the input, whole and streamed
 * detokenization compared. Built by scripts/fuzz.sh. */
#include "fuzz_tokenizer_check.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const TEXTS[] = {"Hello world",
                                    "ab  c\n\tabc",
                                    "<s>a</s><unk>",
                                    "\342\226\201a b",
                                    "\xC3\xA9\xF0\x9F\x98\x80\xFF",
                                    ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *json = (const char *)data, *config = NULL;
    size_t json_len = size, config_len = 0;
    const uint8_t *sep = NULL;
    for (size_t i = 0; !sep && i + 3 <= size; i++)
        if (data[i] == '\n' && data[i + 1] == 1 && data[i + 2] == '\n') sep = data + i;
    if (sep) {
        json_len = (size_t)(sep - data);
        config = (const char *)sep + 3;
        config_len = size - json_len - 3;
    }
    tinfer_tokenizer *t = NULL;
    if (tf_tokenizer_from_hf_json(json, json_len, config, config_len, &t) != TINFER_OK) return 0;
    for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0]; i++)
        fuzz_check_tokenize(t, TEXTS[i], strlen(TEXTS[i]), (uint32_t)i % 4, false);
    fuzz_check_tokenize(t, json, json_len < 64 ? json_len : 64, TINFER_TOKENIZE_DEFAULT, false);
    int32_t ids[32];
    size_t n = fuzz_ids_from_bytes(t, data + size / 2, size - size / 2, ids, 32);
    fuzz_check_detok(t, 0, ids, n, false);
    n = fuzz_ids_from_bytes(t, data, size, ids, 32);
    fuzz_check_detok(t, TINFER_DETOKENIZE_SKIP_SPECIAL, ids, n, false);
    tinfer_tokenizer_free(t);
    return 0;
}
