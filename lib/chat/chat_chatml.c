/* ChatML templates: the plain one and Qwen3's (Qwen/Qwen3-* tokenizer_config.json) without tools.
 */
#include "chat/chat_renderers.h"

static void put_turn(tf_chat_out *out, const char *role, tf_chat_str content) {
    tf_chat_put_cstr(out, "<|im_start|>");
    tf_chat_put_cstr(out, role);
    tf_chat_put_cstr(out, "\n");
    tf_chat_put(out, content);
    tf_chat_put_cstr(out, "<|im_end|>\n");
}

/* Every message as "<|im_start|>" role "\n" content "<|im_end|>\n", verbatim. */
tinfer_status tf_chat_render_chatml(const tf_chat_conv *conv, tf_chat_out *out) {
    for (size_t i = 0; i < conv->n; i++)
        put_turn(out, conv->msgs[i].role, tf_chat_str_of(conv->msgs[i].content));
    if (conv->add_generation_prompt) tf_chat_put_cstr(out, "<|im_start|>assistant\n");
    return TINFER_OK;
}

/* Qwen3 treats a user message wrapped in <tool_response>…</tool_response> as a tool result, not
 * as the user's question; the last real question decides which assistant turns keep reasoning.
 * Without one, the template's default is the last index. */
static size_t last_query_index(const tf_chat_conv *conv) {
    for (size_t i = conv->n; i-- > 0;) {
        tf_chat_str content = tf_chat_str_of(conv->msgs[i].content);
        bool tool_result = tf_chat_starts_with(content, "<tool_response>") &&
                           tf_chat_ends_with(content, "</tool_response>");
        if (tf_chat_role_of(&conv->msgs[i]) == TF_ROLE_USER && !tool_result) return i;
    }
    return conv->n - 1;
}

/* The template's split of an assistant message into reasoning and answer:
 *   content   = text.split('</think>')[-1].lstrip('\n')
 *   reasoning = text.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
 * applied only when '</think>' occurs; otherwise reasoning is empty and content is the text. */
static void split_reasoning(tf_chat_str text, tf_chat_str *content, tf_chat_str *reasoning) {
    size_t first_close, last_close, open;
    *content = text;
    reasoning->ptr = "";
    reasoning->len = 0;
    if (!tf_chat_find_first(text, "</think>", &first_close)) return;
    tf_chat_find_last(text, "</think>", &last_close);
    size_t after_close = last_close + sizeof "</think>" - 1;
    tf_chat_str tail = {text.ptr + after_close, text.len - after_close};
    *content = tf_chat_lstrip_newlines(tail);

    tf_chat_str head = tf_chat_rstrip_newlines((tf_chat_str){text.ptr, first_close});
    if (tf_chat_find_last(head, "<think>", &open)) {
        size_t after_open = open + sizeof "<think>" - 1;
        head = (tf_chat_str){head.ptr + after_open, head.len - after_open};
    }
    *reasoning = tf_chat_lstrip_newlines(head);
}

static void put_assistant(tf_chat_out *out, tf_chat_str text, bool after_last_query, bool is_last) {
    tf_chat_str content, reasoning;
    split_reasoning(text, &content, &reasoning);
    tf_chat_put_cstr(out, "<|im_start|>assistant\n");
    if (after_last_query && (is_last || reasoning.len > 0)) {
        tf_chat_put_cstr(out, "<think>\n");
        tf_chat_put(out, tf_chat_rstrip_newlines(tf_chat_lstrip_newlines(reasoning)));
        tf_chat_put_cstr(out, "\n</think>\n\n");
        content = tf_chat_lstrip_newlines(content);
    }
    tf_chat_put(out, content);
    tf_chat_put_cstr(out, "<|im_end|>\n");
}

tinfer_status tf_chat_render_qwen3(const tf_chat_conv *conv, tf_chat_out *out) {
    /* messages[0].role on an empty list is a Jinja UndefinedError. */
    if (conv->n == 0) return tf_chat_template_error(TF_CHAT_QWEN3, "list object has no element 0");
    size_t last_query = last_query_index(conv);
    for (size_t i = 0; i < conv->n; i++) {
        const tf_chat_msg *msg = &conv->msgs[i];
        tf_chat_str content = tf_chat_str_of(msg->content);
        switch (tf_chat_role_of(msg)) {
        case TF_ROLE_SYSTEM:
        case TF_ROLE_USER:
            /* The template writes a leading system message before its loop, the same way. */
            put_turn(out, msg->role, content);
            break;
        case TF_ROLE_ASSISTANT:
            put_assistant(out, content, i > last_query, i + 1 == conv->n);
            break;
        }
    }
    /* enable_thinking is not passed, so the empty <think></think> of enable_thinking=false is not
     * added. */
    if (conv->add_generation_prompt) tf_chat_put_cstr(out, "<|im_start|>assistant\n");
    return TINFER_OK;
}
