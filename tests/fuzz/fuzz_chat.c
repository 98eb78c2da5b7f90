/* libFuzzer target: tinfer_chat_apply over fuzzed conversations, with the real templates of
 * tests/data/chat (Gemma 3, Llama 2 chat, Llama 3 and Llama 3 instruct, ChatML, Qwen3), each
 * carried by a tiny tokenizer built from its tokenizer_config.json. Byte 0 picks the template and
 * add_generation_prompt; the rest is messages separated by 0x1E, each a role byte (system, user,
 * assistant, tool, or the text up to 0x1F as the role) and its content. A rendering must measure
 * and write the same length, and refuse a buffer one byte short. Run from the repository root
 * (or set TINFER_SOURCE_DIR). Built by scripts/fuzz.sh. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinfer/tinfer.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { N_TEMPLATES = 6, MAX_MSGS = 16 };
static tinfer_tokenizer *tokenizers[N_TEMPLATES];

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        text = size >= 0 ? malloc((size_t)size + 1) : NULL;
        rewind(f);
        if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
            free(text);
            text = NULL;
        }
        if (text) *len = (size_t)size;
    }
    fclose(f);
    return text;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    static const char *const configs[N_TEMPLATES] = {
        "gemma3_tokenizer_config.json", "llama2_chat_template.json",
        "llama3_tokenizer_config.json", "llama3_instruct_template.json",
        "chatml_template.json",         "qwen3_tokenizer_config.json"};
    /* a vocabulary holding every template's BOS/EOS text, so each config loads */
    static const char TINY[] =
        "{\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":{\"a\":0,\"<bos>\":1,\"<eos>\":2,"
        "\"<s>\":3,\"</s>\":4,\"<|begin_of_text|>\":5,\"<|end_of_text|>\":6,\"<|eot_id|>\":7,"
        "\"<|im_end|>\":8,\"<|endoftext|>\":9,\"<end_of_turn>\":10}}}";
    const char *root = getenv("TINFER_SOURCE_DIR") ? getenv("TINFER_SOURCE_DIR") : ".";
    for (int i = 0; i < N_TEMPLATES; i++) {
        char path[4096];
        size_t len = 0;
        snprintf(path, sizeof path, "%s/tests/data/chat/%s", root, configs[i]);
        char *config = read_file(path, &len);
        if (!config || tf_tokenizer_from_hf_json(TINY, strlen(TINY), config, len, &tokenizers[i]) !=
                           TINFER_OK) {
            fprintf(stderr, "fuzz_chat: cannot use %s: %s\n", path, tinfer_last_error());
            free(config);
            exit(1);
        }
        free(config);
    }
    return 0;
}

static const char *const ROLES[] = {"system", "user", "assistant", "tool"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const tinfer_tokenizer *t = tokenizers[data[0] % N_TEMPLATES];
    bool add_generation_prompt = data[0] & 0x80;
    /* a NUL-terminated copy, cut into messages in place */
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    tinfer_chat_msg msgs[MAX_MSGS];
    size_t n = 0;
    for (char *at = text; n < MAX_MSGS && *at;) {
        char *end = strchr(at, 0x1E);
        if (end) *end = '\0';
        uint8_t role = (uint8_t)*at++;
        if (role % 5 < 4) {
            msgs[n++] = (tinfer_chat_msg){ROLES[role % 5], at};
        } else {
            char *sep = strchr(at, 0x1F);
            if (sep) *sep = '\0';
            msgs[n++] = (tinfer_chat_msg){at, sep ? sep + 1 : ""};
        }
        if (!end) break;
        at = end + 1;
    }
    size_t len = 0;
    tinfer_status st =
        tinfer_chat_apply(t, msgs, n, sizeof *msgs, add_generation_prompt, NULL, 0, &len);
    if (getenv("TINFER_FUZZ_VERBOSE"))
        fprintf(stderr, "%zu messages: %s (%zu bytes)\n", n, tinfer_last_error(), len);
    if (st == TINFER_E_BUFFER_TOO_SMALL) {
        char *out = malloc(len + 1);
        size_t got = 0, short_len = 0;
        if (out && tinfer_chat_apply(t, msgs, n, sizeof *msgs, add_generation_prompt, out, len + 1,
                                     &got) != TINFER_OK)
            abort();
        if (out && (got != len || strlen(out) != len)) abort();
        if (out && tinfer_chat_apply(t, msgs, n, sizeof *msgs, add_generation_prompt, out, len,
                                     &short_len) != TINFER_E_BUFFER_TOO_SMALL)
            abort();
        free(out);
    } else if (st == TINFER_OK) {
        abort(); /* cap 0 cannot hold even the NUL */
    }
    free(text);
    return 0;
}
