/* The copies of a model's weights in device memory: made once per model and device by the first
 * context on that device, shared by every later one, freed with the model. The CPU needs none. */
#ifndef TINFER_MODEL_DEVICE_WEIGHTS_H
#define TINFER_MODEL_DEVICE_WEIGHTS_H

#include "backend/backend.h"
#include "model/model.h"

/* Allocates the model's (empty) registry. E_NOMEM. */
tinfer_status tf_device_weights_create(tf_device_weights **out);
/* Releases every copy (each through the release_weights of the backend that made it). */
void tf_device_weights_free(tf_device_weights *registry);

/* Points be at the model's copy of its weights for be's device, uploading them the first time
 * (thread-safe: contexts on one model may be created from several threads). Nothing to do for a
 * backend that reads host memory. Errors are the upload's. */
tinfer_status tf_model_bind_device(const tinfer_model *model, tf_backend *be);

/* The host regions holding every weight of the model's network (model files' tensor data, the
 * float32 norm copies, the RoPE divisors): at most cap written into out, the count returned. */
size_t tf_model_weight_regions(const tinfer_model *model, tf_weight_region *out, size_t cap);

#endif
