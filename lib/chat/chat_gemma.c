/* Gemma 3's chat template (google/gemma-3-*-it tokenizer_config.json), text-only messages:
 *   {{ bos_token }}, a leading system message becomes "content\n\n" in front of the first turn,
 *   then turns must alternate user/assistant ("model"), each
 *   "<start_of_turn>" role "\n" [prefix] content|trim "<end_of_turn>\n",
 *   and "<start_of_turn>model\n" as the generation prompt. */
#include "chat/chat_renderers.h"

static const char GEMMA_ALTERNATE[] =
    "Conversation roles must alternate user/assistant/user/assistant/...";

tinfer_status tf_chat_render_gemma(const tf_chat_conv *conv, tf_chat_out *out) {
    /* messages[0]['role'] on an empty list is a Jinja UndefinedError. */
    if (conv->n == 0) return tf_chat_template_error(TF_CHAT_GEMMA, "list object has no element 0");
    bool has_system = tf_chat_role_of(&conv->msgs[0]) == TF_ROLE_SYSTEM;
    const tf_chat_msg *turns = conv->msgs + (has_system ? 1 : 0);
    size_t n_turns = conv->n - (has_system ? 1 : 0);

    for (size_t i = 0; i < n_turns; i++) {
        bool is_user = tf_chat_role_of(&turns[i]) == TF_ROLE_USER;
        if (is_user != (i % 2 == 0)) return tf_chat_template_error(TF_CHAT_GEMMA, GEMMA_ALTERNATE);
    }

    tf_chat_put(out, conv->bos_token);
    for (size_t i = 0; i < n_turns; i++) {
        tf_chat_role role = tf_chat_role_of(&turns[i]);
        tf_chat_put_cstr(out, "<start_of_turn>");
        /* Only "assistant" is renamed; a later system message at an odd position passes the
         * alternation check and keeps its own name, as in the template. */
        tf_chat_put_cstr(out, role == TF_ROLE_ASSISTANT ? "model" : turns[i].role);
        tf_chat_put_cstr(out, "\n");
        if (i == 0 && has_system) {
            /* The system text is not trimmed; only the turn's own content is. */
            tf_chat_put_cstr(out, conv->msgs[0].content);
            tf_chat_put_cstr(out, "\n\n");
        }
        tf_chat_put(out, tf_chat_strip_space(tf_chat_str_of(turns[i].content)));
        tf_chat_put_cstr(out, "<end_of_turn>\n");
    }
    if (conv->add_generation_prompt) tf_chat_put_cstr(out, "<start_of_turn>model\n");
    return TINFER_OK;
}
