/* The network a model runs: its architecture's switches, its weights bound by name and its RoPE
 * scaling — resolved and checked once, when the model loads, and shared by every context. */
#ifndef TINFER_MODEL_NETWORK_H
#define TINFER_MODEL_NETWORK_H

#include "model/arch_traits.h"
#include "model/model.h"
#include "model/rope_scaling.h"
#include "model/weights.h"

struct tf_network {
    tf_arch_traits traits;
    tf_weights weights;
    tf_rope_scaling rope_scaling;
};

/* Binds the network of a loaded model into model->network; when the model cannot run (another
 * architecture, a missing or mis-shaped tensor, a dtype without a kernel) keeps the status and
 * message in model->network_status / network_error for context creation to report, and still
 * succeeds: such a model can be inspected and tokenized. Fails only for E_NOMEM. */
tinfer_status tf_network_bind(tinfer_model *model);
void tf_network_free(tf_network *network);

/* The model's network, or its reason for having none (status and message, as tf_error sets). */
tinfer_status tf_model_network(const tinfer_model *model, const tf_network **out);

#endif
