/* Family names and the architecture default (see chat_family.h). */
#include "chat/chat_family.h"

#include <string.h>

static const char *const FAMILY_NAMES[TF_CHAT_FAMILY_COUNT] = {
    [TF_CHAT_UNKNOWN] = "unknown",
    [TF_CHAT_GEMMA] = "gemma",
    [TF_CHAT_LLAMA2] = "llama2",
    [TF_CHAT_LLAMA3] = "llama3",
    [TF_CHAT_LLAMA3_ALWAYS_PROMPT] = "llama3_always_prompt",
    [TF_CHAT_CHATML] = "chatml",
    [TF_CHAT_QWEN3] = "qwen3",
};

const char *tf_chat_family_name(tf_chat_family family) {
    if ((unsigned)family >= TF_CHAT_FAMILY_COUNT) return "unknown";
    return FAMILY_NAMES[family];
}

tf_chat_family tf_chat_family_for_architecture(const char *architecture) {
    /* Gemma 3 ships one chat template for every size; llama, qwen2 and qwen3 files differ by
     * model generation, so for them a missing template stays an error rather than a guess. */
    return architecture && strcmp(architecture, "gemma3") == 0 ? TF_CHAT_GEMMA : TF_CHAT_UNKNOWN;
}
