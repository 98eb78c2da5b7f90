/* Recognises a chat template by its exact text. Templates differ in small ways that change the
 * output (a default system prompt, a conditional generation prompt, date lines), so a template is
 * matched whole, by length and 64-bit FNV-1a hash, against the published ones we reproduce;
 * anything else is unknown rather than guessed from a marker such as "<|im_start|>". A crafted
 * collision could only select one of these fixed renderers, never run template code. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "chat/chat_family.h"

typedef struct known_template {
    tf_chat_family family;
    size_t n_bytes;
    uint64_t fnv1a;
} known_template;

/* tests/data/chat/ holds each text; test_chat checks every entry against it. */
static const known_template KNOWN[] = {
    {TF_CHAT_GEMMA, 1532, 0xc90dea00b85c935dULL}, /* google/gemma-3-*-it */
    {TF_CHAT_LLAMA2, 815, 0xf344eecf1bd3a427ULL}, /* meta-llama/Llama-2-*-chat-hf */
    {TF_CHAT_LLAMA3, 389, 0x0e60067a5537498eULL}, /* meta-llama/Meta-Llama-3-*-Instruct */
    {TF_CHAT_LLAMA3_ALWAYS_PROMPT, 348, 0x74891e390e614ae2ULL}, /* the same, first revision */
    {TF_CHAT_CHATML, 196, 0x88bf4138d5c826f0ULL}, /* ChatML, transformers' former default */
    {TF_CHAT_QWEN3, 4116, 0x2bfdb7aa9754484eULL}, /* Qwen/Qwen3-* */
};

static uint64_t fnv1a_64(const char *text, size_t n_bytes) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n_bytes; i++) {
        hash ^= (unsigned char)text[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

tf_chat_family tf_chat_detect(const char *template_text) {
    if (template_text == NULL) return TF_CHAT_UNKNOWN;
    size_t n_bytes = strlen(template_text);
    uint64_t hash = 0;
    bool hashed = false;
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++) {
        if (KNOWN[i].n_bytes != n_bytes) continue;
        if (!hashed) {
            hash = fnv1a_64(template_text, n_bytes);
            hashed = true;
        }
        if (KNOWN[i].fnv1a == hash) return KNOWN[i].family;
    }
    return TF_CHAT_UNKNOWN;
}
