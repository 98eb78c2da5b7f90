/* Roles and template errors (see chat_conv.h). */
#include "chat/chat_conv.h"

#include <string.h>

#include "core/error.h"

tf_chat_role tf_chat_role_of(const tf_chat_msg *msg) {
    if (strcmp(msg->role, "system") == 0) return TF_ROLE_SYSTEM;
    if (strcmp(msg->role, "user") == 0) return TF_ROLE_USER;
    return TF_ROLE_ASSISTANT;
}

tinfer_status tf_chat_template_error(tf_chat_family family, const char *template_message) {
    return tf_error(TINFER_E_INVALID_ARG, "chat template (%s): %s", tf_chat_family_name(family),
                    template_message);
}
