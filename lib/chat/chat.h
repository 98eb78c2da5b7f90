/* Chat templates: a model's Jinja chat_template is recognised by its exact text, and conversations
 * are rendered by fixed C code written for that template, byte for byte as Jinja renders it. The
 * template is data, never code: nothing in it is parsed, interpreted or executed, so a hostile
 * template can at worst be "unknown".
 *
 * The folder, top down (includes point down only):
 *   chat_api.c        tinfer_chat_apply: the tokenizer's template and BOS/EOS text → tf_chat_*
 *   chat.h, chat.c    checks a conversation, measures it, dispatches to the family's renderer
 *   chat_renderers.h  one renderer per family: chat_gemma.c, chat_llama.c, chat_chatml.c
 *   chat_conv.h       the message, roles and checked conversation a renderer takes
 *   chat_family.h     the families, their names, chat_detect.c (template text → family)
 *   chat_text.h       Python-style string slices and the output writer */
#ifndef TINFER_CHAT_CHAT_H
#define TINFER_CHAT_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/chat_conv.h"
#include "chat/chat_family.h"
#include "tinfer/tinfer.h"

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
tinfer_status tf_chat_apply_template(const char *template_text, const tf_chat_msg *msgs, size_t n,
                                     bool add_generation_prompt, const char *bos_token,
                                     const char *eos_token, char *buf, size_t cap,
                                     size_t *len_needed);

#endif
