/* The Llama 2 chat and Llama 3 instruct templates. */
#include "chat/chat_renderers.h"

static const char LLAMA2_ALTERNATE[] =
    "Conversation roles must alternate user/assistant/user/assistant/...";

/* meta-llama/Llama-2-7b-chat-hf: a leading system message goes, as "<<SYS>>\n" sys
 * "\n<</SYS>>\n\n", in front of the first turn; user turns are bos "[INST] " content.strip() "
 * [/INST]", assistant turns " " content.strip() " " eos. strip() applies to the whole first-turn
 * concatenation, and a system message elsewhere (allowed at odd positions) renders nothing. No
 * generation prompt. */
tinfer_status tf_chat_render_llama2(const tf_chat_conv *conv, tf_chat_out *out) {
    if (conv->n == 0) return tf_chat_template_error(TF_CHAT_LLAMA2, "list object has no element 0");
    bool has_system = tf_chat_role_of(&conv->msgs[0]) == TF_ROLE_SYSTEM;
    const tf_chat_msg *turns = conv->msgs + (has_system ? 1 : 0);
    size_t n_turns = conv->n - (has_system ? 1 : 0);

    for (size_t i = 0; i < n_turns; i++) {
        bool is_user = tf_chat_role_of(&turns[i]) == TF_ROLE_USER;
        if (is_user != (i % 2 == 0))
            return tf_chat_template_error(TF_CHAT_LLAMA2, LLAMA2_ALTERNATE);
    }

    for (size_t i = 0; i < n_turns; i++) {
        tf_chat_role role = tf_chat_role_of(&turns[i]);
        if (role == TF_ROLE_SYSTEM) continue;
        tf_chat_str parts[4] = {tf_chat_str_of(turns[i].content)};
        size_t n_parts = 1;
        if (i == 0 && has_system) {
            parts[0] = tf_chat_str_of("<<SYS>>\n");
            parts[1] = tf_chat_str_of(conv->msgs[0].content);
            parts[2] = tf_chat_str_of("\n<</SYS>>\n\n");
            parts[3] = tf_chat_str_of(turns[i].content);
            n_parts = 4;
        }
        if (role == TF_ROLE_USER) {
            tf_chat_put(out, conv->bos_token);
            tf_chat_put_cstr(out, "[INST] ");
            tf_chat_put_stripped(out, parts, n_parts);
            tf_chat_put_cstr(out, " [/INST]");
        } else {
            tf_chat_put_cstr(out, " ");
            tf_chat_put_stripped(out, parts, n_parts);
            tf_chat_put_cstr(out, " ");
            tf_chat_put(out, conv->eos_token);
        }
    }
    return TINFER_OK;
}

/* meta-llama/Meta-Llama-3-8B-Instruct: bos before the first message, then for every message
 * "<|start_header_id|>" role "<|end_header_id|>\n\n" content|trim "<|eot_id|>", in any order;
 * then the assistant header — on request, or (first revision) always. */
tinfer_status tf_chat_render_llama3(const tf_chat_conv *conv, bool always_prompt,
                                    tf_chat_out *out) {
    for (size_t i = 0; i < conv->n; i++) {
        if (i == 0) tf_chat_put(out, conv->bos_token);
        tf_chat_put_cstr(out, "<|start_header_id|>");
        tf_chat_put_cstr(out, conv->msgs[i].role);
        tf_chat_put_cstr(out, "<|end_header_id|>\n\n");
        tf_chat_put(out, tf_chat_strip_space(tf_chat_str_of(conv->msgs[i].content)));
        tf_chat_put_cstr(out, "<|eot_id|>");
    }
    if (always_prompt || conv->add_generation_prompt)
        tf_chat_put_cstr(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return TINFER_OK;
}
