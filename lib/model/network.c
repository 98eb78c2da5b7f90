/* Binding a model's network once at load, and remembering why when it cannot run. */
#include "model/network.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static tinfer_status bind(const tinfer_model *model, tf_network *net) {
    tinfer_status s;
    if ((s = tf_arch_traits_of(model, &net->traits)) ||
        (s = tf_weights_bind(model, &net->traits, &net->weights)) ||
        (s = tf_rope_scaling_read(model, net->weights.rope_freqs == NULL, &net->rope_scaling)))
        return s;
    if (model->hparams.n_vocab == 0) return tf_error(TINFER_E_FORMAT, "the vocabulary is empty");
    return TINFER_OK;
}

tinfer_status tf_network_bind(tinfer_model *model) {
    tf_network *net = calloc(1, sizeof *net);
    if (!net) return tf_error(TINFER_E_NOMEM, "out of memory for the network");
    const tinfer_status status = bind(model, net);
    if (status == TINFER_OK) {
        model->network = net;
        return TINFER_OK;
    }
    tf_network_free(net);
    if (status == TINFER_E_NOMEM) return status;
    model->network_status = status;
    model->network_error = strdup(tinfer_last_error());
    tf_error_clear();
    return model->network_error ? TINFER_OK
                                : tf_error(TINFER_E_NOMEM, "out of memory for a message");
}

void tf_network_free(tf_network *network) {
    if (!network) return;
    tf_weights_free(&network->weights);
    tf_rope_scaling_free(&network->rope_scaling);
    free(network);
}

tinfer_status tf_model_network(const tinfer_model *model, const tf_network **out) {
    if (model->network) {
        *out = model->network;
        return TINFER_OK;
    }
    return tf_error(model->network_status, "%s", model->network_error);
}
