/* The chat-template families: one value per published template whose rendering we reproduce, its
 * name, which family a template text is (chat_detect.c), and the family an architecture implies
 * when a model file carries no template. Includes nothing else of chat/. */
#ifndef TINFER_CHAT_CHAT_FAMILY_H
#define TINFER_CHAT_CHAT_FAMILY_H

/* One value per published template whose rendering we reproduce. */
typedef enum tf_chat_family {
    TF_CHAT_UNKNOWN = 0,
    TF_CHAT_GEMMA,                /* Gemma 3 instruct: system folded into the first user turn,
                                     assistant rendered as "model", strict user/model alternation */
    TF_CHAT_LLAMA2,               /* Llama 2 chat: <s>[INST] … [/INST], <<SYS>> block in the first
                                     user turn; never adds a generation prompt */
    TF_CHAT_LLAMA3,               /* Meta-Llama-3-Instruct: header-delimited turns, assistant header
                                     only when a generation prompt is asked for */
    TF_CHAT_LLAMA3_ALWAYS_PROMPT, /* the first published revision of that template: the assistant
                                     header is appended whether asked for or not */
    TF_CHAT_CHATML,               /* plain ChatML: <|im_start|>role\ncontent<|im_end|>\n */
    TF_CHAT_QWEN3,                /* Qwen3 ChatML with <think> blocks in assistant turns; the tool
                                     parts of the template are not supported */
    TF_CHAT_FAMILY_COUNT
} tf_chat_family;

/* The family whose template text is exactly template_text; TF_CHAT_UNKNOWN for NULL or any other
 * text (a single changed byte included: a near-copy may render differently, and we do not guess).
 */
tf_chat_family tf_chat_detect(const char *template_text);

/* "gemma", "llama2", "llama3", "llama3_always_prompt", "chatml", "qwen3"; "unknown" otherwise. */
const char *tf_chat_family_name(tf_chat_family family);

/* The family of the one published template of an architecture ("gemma3" → GEMMA), for model
 * files that carry no template; TF_CHAT_UNKNOWN for NULL and for architectures with several or
 * none. */
tf_chat_family tf_chat_family_for_architecture(const char *architecture);

#endif
