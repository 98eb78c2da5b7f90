/* A conversation as the renderers take it: the message type, the three roles, the checked
 * conversation with the tokenizer's BOS/EOS text, and the error a template raises. Shared by
 * chat.c, which checks and builds it, and the renderers; includes no renderer and not chat.h. */
#ifndef TINFER_CHAT_CHAT_CONV_H
#define TINFER_CHAT_CHAT_CONV_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/chat_family.h"
#include "chat/chat_text.h"
#include "tinfer/tinfer.h"

/* A message as the caller gives it; both strings NUL-terminated UTF-8. Roles are "system", "user"
 * and "assistant"; "tool" is refused with TINFER_E_UNSUPPORTED, anything else with E_INVALID_ARG
 * (where a template would render or silently drop an unknown role, we refuse instead). The public
 * message type, used as is. */
typedef tinfer_chat_msg tf_chat_msg;

typedef enum tf_chat_role { TF_ROLE_SYSTEM, TF_ROLE_USER, TF_ROLE_ASSISTANT } tf_chat_role;

typedef struct tf_chat_conv {
    const tf_chat_msg *msgs;
    size_t n;
    bool add_generation_prompt;
    tf_chat_str bos_token;
    tf_chat_str eos_token;
} tf_chat_conv;

/* The role of a message that passed validation. */
tf_chat_role tf_chat_role_of(const tf_chat_msg *msg);

/* The error a template's raise_exception (or a failed lookup) gives, with its text. */
tinfer_status tf_chat_template_error(tf_chat_family family, const char *template_message);

#endif
