/* tf_chat_render: checks the arguments and roles, measures, then renders through the family's
 * renderer into the caller's buffer. */
#include "chat/chat.h"

#include <string.h>

#include "chat/chat_renderers.h"
#include "core/error.h"

static tinfer_status check_messages(const tf_chat_msg *msgs, size_t n) {
    if (n > 0 && msgs == NULL) return tf_error(TINFER_E_INVALID_ARG, "chat: msgs is NULL");
    for (size_t i = 0; i < n; i++) {
        const char *role = msgs[i].role;
        if (role == NULL || msgs[i].content == NULL)
            return tf_error(TINFER_E_INVALID_ARG, "chat: message %zu has a NULL %s", i,
                            role == NULL ? "role" : "content");
        if (strcmp(role, "tool") == 0)
            return tf_error(TINFER_E_UNSUPPORTED,
                            "chat: message %zu: tool messages are not supported", i);
        if (strcmp(role, "system") != 0 && strcmp(role, "user") != 0 &&
            strcmp(role, "assistant") != 0)
            return tf_error(TINFER_E_INVALID_ARG,
                            "chat: message %zu: unknown role '%.40s' (expected system, user or "
                            "assistant)",
                            i, role);
    }
    return TINFER_OK;
}

static tinfer_status render_family(tf_chat_family family, const tf_chat_conv *conv,
                                   tf_chat_out *out) {
    switch (family) {
    case TF_CHAT_GEMMA:
        return tf_chat_render_gemma(conv, out);
    case TF_CHAT_LLAMA2:
        return tf_chat_render_llama2(conv, out);
    case TF_CHAT_LLAMA3:
        return tf_chat_render_llama3(conv, false, out);
    case TF_CHAT_LLAMA3_ALWAYS_PROMPT:
        return tf_chat_render_llama3(conv, true, out);
    case TF_CHAT_CHATML:
        return tf_chat_render_chatml(conv, out);
    case TF_CHAT_QWEN3:
        return tf_chat_render_qwen3(conv, out);
    default:
        return tf_error(TINFER_E_UNSUPPORTED, "chat: no renderer for template family %d",
                        (int)family);
    }
}

tinfer_status tf_chat_render(tf_chat_family family, const tf_chat_msg *msgs, size_t n,
                             bool add_generation_prompt, const char *bos_token,
                             const char *eos_token, char *buf, size_t cap, size_t *len_needed) {
    if (len_needed == NULL) return tf_error(TINFER_E_INVALID_ARG, "chat: len_needed is NULL");
    if (buf == NULL && cap > 0)
        return tf_error(TINFER_E_INVALID_ARG, "chat: buf is NULL but cap is %zu", cap);
    tinfer_status status = check_messages(msgs, n);
    if (status != TINFER_OK) return status;

    tf_chat_conv conv = {msgs, n, add_generation_prompt, tf_chat_str_of(bos_token),
                         tf_chat_str_of(eos_token)};
    tf_chat_out measure = {NULL, 0, 0, false};
    status = render_family(family, &conv, &measure);
    if (status != TINFER_OK) return status;
    if (measure.overflow)
        return tf_error(TINFER_E_INVALID_ARG, "chat: the rendered conversation exceeds SIZE_MAX");
    *len_needed = measure.len;
    if (cap <= measure.len)
        return tf_error(TINFER_E_BUFFER_TOO_SMALL,
                        "chat: the rendered conversation needs %zu bytes and a NUL; the buffer "
                        "holds %zu",
                        measure.len, cap);

    tf_chat_out out = {buf, cap, 0, false};
    render_family(family, &conv, &out);
    buf[out.len] = '\0';
    return TINFER_OK;
}

tinfer_status tf_chat_apply_template(const char *template_text, const tf_chat_msg *msgs, size_t n,
                                     bool add_generation_prompt, const char *bos_token,
                                     const char *eos_token, char *buf, size_t cap,
                                     size_t *len_needed) {
    if (template_text == NULL)
        return tf_error(TINFER_E_UNSUPPORTED, "chat: the model has no chat template");
    tf_chat_family family = tf_chat_detect(template_text);
    if (family == TF_CHAT_UNKNOWN)
        return tf_error(TINFER_E_UNSUPPORTED,
                        "chat: the model's chat template (%zu bytes) is not one we can render; "
                        "supported: the published Gemma 3, Llama 2 chat, Llama 3 instruct, "
                        "ChatML and Qwen3 templates, byte for byte",
                        strlen(template_text));
    return tf_chat_render(family, msgs, n, add_generation_prompt, bos_token, eos_token, buf, cap,
                          len_needed);
}
