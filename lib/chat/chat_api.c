/* Public entry point for chat templates: the tokenizer supplies the template and its BOS/EOS text.
 */
#include "chat/chat.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

TINFER_API tinfer_status tinfer_chat_apply(const tinfer_tokenizer *tokenizer,
                                           const tinfer_chat_msg *msgs, size_t n,
                                           bool add_generation_prompt, char *buf, size_t cap,
                                           size_t *len) {
    tf_error_clear();
    if (!tokenizer) return tf_error(TINFER_E_INVALID_ARG, "tinfer_chat_apply: tokenizer is NULL");
    tf_chat_family fallback = tf_chat_family_for_architecture(tf_tokenizer_architecture(tokenizer));
    if (!tf_tokenizer_chat_template(tokenizer) && fallback != TF_CHAT_UNKNOWN)
        return tf_chat_render(fallback, msgs, n, add_generation_prompt,
                              tf_tokenizer_bos_text(tokenizer), tf_tokenizer_eos_text(tokenizer),
                              buf, cap, len);
    return tf_chat_apply_template(tf_tokenizer_chat_template(tokenizer), msgs, n,
                                  add_generation_prompt, tf_tokenizer_bos_text(tokenizer),
                                  tf_tokenizer_eos_text(tokenizer), buf, cap, len);
}
