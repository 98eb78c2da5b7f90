/* Public entry point for chat templates: the tokenizer supplies the template and its BOS/EOS text.
 */
#include <stdlib.h>

#include "chat/chat.h"
#include "core/abi_struct.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

/* Both fields were in 0.1's struct. */
static const tf_abi_field chat_msg_fields[] = {
    TF_ABI_FIELD(tinfer_chat_msg, role),
    TF_ABI_FIELD(tinfer_chat_msg, content),
};
static const tf_abi_layout chat_msg_layout = {"tinfer_chat_msg", sizeof(tinfer_chat_msg),
                                              chat_msg_fields, 2, 2};

static tinfer_status render(const tinfer_tokenizer *tokenizer, const tinfer_chat_msg *msgs,
                            size_t n, bool add_generation_prompt, char *buf, size_t cap,
                            size_t *len) {
    tf_chat_family fallback = tf_chat_family_for_architecture(tf_tokenizer_architecture(tokenizer));
    if (!tf_tokenizer_chat_template(tokenizer) && fallback != TF_CHAT_UNKNOWN)
        return tf_chat_render(fallback, msgs, n, add_generation_prompt,
                              tf_tokenizer_bos_text(tokenizer), tf_tokenizer_eos_text(tokenizer),
                              buf, cap, len);
    return tf_chat_apply_template(tf_tokenizer_chat_template(tokenizer), msgs, n,
                                  add_generation_prompt, tf_tokenizer_bos_text(tokenizer),
                                  tf_tokenizer_eos_text(tokenizer), buf, cap, len);
}

TINFER_API tinfer_status tinfer_chat_apply(const tinfer_tokenizer *tokenizer,
                                           const tinfer_chat_msg *msgs, size_t n, size_t msg_size,
                                           bool add_generation_prompt, char *buf, size_t cap,
                                           size_t *len) {
    tf_error_clear();
    TF_CHECK_ARG(tokenizer, "tinfer_chat_apply: tokenizer is NULL");
    TF_CHECK_ARG(msgs || n == 0, "tinfer_chat_apply: msgs is NULL but n = %zu", n);
    /* The library's own layout is used in place; any other stride is read into one. */
    if (msg_size == sizeof(tinfer_chat_msg))
        return render(tokenizer, msgs, n, add_generation_prompt, buf, cap, len);
    tinfer_chat_msg *copy = calloc(n ? n : 1, sizeof *copy);
    if (!copy)
        return tf_error(TINFER_E_NOMEM, "tinfer_chat_apply: out of memory for %zu messages", n);
    tinfer_status status = tf_abi_array_read(&chat_msg_layout, msgs, n, msg_size, copy,
                                             "tinfer_chat_apply", "msgs", "msg_size");
    if (status == TINFER_OK)
        status = render(tokenizer, copy, n, add_generation_prompt, buf, cap, len);
    free(copy);
    return status;
}
