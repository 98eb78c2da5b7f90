/* Chat templates: a model's Jinja chat_template is recognised by its exact text, and conversations
 * are rendered by fixed C code written for that template, byte for byte as Jinja renders it. The
 * template is data, never code: nothing in it is parsed, interpreted or executed, so a hostile
 * template can at worst be "unknown". */
#ifndef TINFER_CHAT_CHAT_H
#define TINFER_CHAT_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "tinfer/tinfer.h"

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

/* A message as the caller gives it; both strings NUL-terminated UTF-8. Roles are "system", "user"
 * and "assistant"; "tool" is refused with TINFER_E_UNSUPPORTED, anything else with E_INVALID_ARG
 * (where a template would render or silently drop an unknown role, we refuse instead). */
/* The public message type, used as is. */
typedef tinfer_chat_msg tf_chat_msg;

/* The family whose template text is exactly template_text; TF_CHAT_UNKNOWN for NULL or any other
 * text (a single changed byte included: a near-copy may render differently, and we do not guess).
 */
tf_chat_family tf_chat_detect(const char *template_text);

/* "gemma", "llama2", "llama3", "llama3_always_prompt", "chatml", "qwen3"; "unknown" otherwise. */
const char *tf_chat_family_name(tf_chat_family family);

/* Renders msgs[0..n) as the family's template does, with the tokenizer's bos_token/eos_token text
 * (NULL reads as "": an unset Jinja variable). The output is NUL-terminated; *len_needed receives
 * its length without the NUL on success and on TINFER_E_BUFFER_TOO_SMALL (cap not larger than
 * that; buf may then be NULL with cap 0, to measure). buf is written only on success.
 * Errors: TINFER_E_INVALID_ARG for bad arguments, an unknown role, or a conversation the template
 * rejects (the message carries the template's own text, e.g. Gemma's "Conversation roles must
 * alternate user/assistant/user/assistant/..."); TINFER_E_UNSUPPORTED for tool messages or an
 * unknown family. */
tinfer_status tf_chat_render(tf_chat_family family, const tf_chat_msg *msgs, size_t n,
                             bool add_generation_prompt, const char *bos_token,
                             const char *eos_token, char *buf, size_t cap, size_t *len_needed);

/* tf_chat_detect then tf_chat_render, for the public entry point: a NULL or unrecognised template
 * gives TINFER_E_UNSUPPORTED with a message saying which templates are supported. */
/* The family of the one published template of an architecture ("gemma3" → GEMMA), for model
 * files that carry no template; TF_CHAT_UNKNOWN for architectures with several or none. */
tf_chat_family tf_chat_family_for_architecture(const char *architecture);

tinfer_status tf_chat_apply_template(const char *template_text, const tf_chat_msg *msgs, size_t n,
                                     bool add_generation_prompt, const char *bos_token,
                                     const char *eos_token, char *buf, size_t cap,
                                     size_t *len_needed);

#endif
