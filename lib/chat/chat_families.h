/* The per-template renderers behind tf_chat_render. Each reproduces one Jinja template's output
 * for validated input (roles already checked to be system/user/assistant, strings non-NULL). */
#ifndef TINFER_CHAT_CHAT_FAMILIES_H
#define TINFER_CHAT_CHAT_FAMILIES_H

#include "chat/chat.h"
#include "chat/chat_text.h"

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

/* Each appends the rendering to out, or returns an error before appending anything that matters
 * (out is discarded on error). */
tinfer_status tf_chat_render_gemma(const tf_chat_conv *conv, tf_chat_out *out);
tinfer_status tf_chat_render_llama2(const tf_chat_conv *conv, tf_chat_out *out);
tinfer_status tf_chat_render_llama3(const tf_chat_conv *conv, bool always_prompt, tf_chat_out *out);
tinfer_status tf_chat_render_chatml(const tf_chat_conv *conv, tf_chat_out *out);
tinfer_status tf_chat_render_qwen3(const tf_chat_conv *conv, tf_chat_out *out);

#endif
