/* The per-template renderers behind tf_chat_render (chat.c), one per family, each in the file of
 * its template (chat_gemma.c, chat_llama.c, chat_chatml.c). Each reproduces one Jinja template's
 * output for validated input (roles already checked to be system/user/assistant, strings
 * non-NULL). They share chat_conv.h and chat_text.h and never include chat.h. */
#ifndef TINFER_CHAT_CHAT_RENDERERS_H
#define TINFER_CHAT_CHAT_RENDERERS_H

#include <stdbool.h>

#include "chat/chat_conv.h"
#include "chat/chat_text.h"

/* Each appends the rendering to out, or returns an error before appending anything that matters
 * (out is discarded on error). */
tinfer_status tf_chat_render_gemma(const tf_chat_conv *conv, tf_chat_out *out);
tinfer_status tf_chat_render_llama2(const tf_chat_conv *conv, tf_chat_out *out);
tinfer_status tf_chat_render_llama3(const tf_chat_conv *conv, bool always_prompt, tf_chat_out *out);
tinfer_status tf_chat_render_chatml(const tf_chat_conv *conv, tf_chat_out *out);
tinfer_status tf_chat_render_qwen3(const tf_chat_conv *conv, tf_chat_out *out);

#endif
