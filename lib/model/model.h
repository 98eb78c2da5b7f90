/* The loaded model: its files, metadata, tensor table, hyper-parameters and bound network.
 * Immutable after load. */
#ifndef TINFER_MODEL_MODEL_H
#define TINFER_MODEL_MODEL_H

#include "core/mapped_file.h"
#include "format/metadata.h"
#include "format/tensor_table.h"
#include "model/hparams.h"

typedef struct tf_network tf_network;               /* model/network.h */
typedef struct tf_device_weights tf_device_weights; /* model/device_weights.h */

struct tinfer_model {
    tf_mapped_file *files; /* one per weight file (shards of a safetensors checkpoint) */
    size_t n_files;
    tinfer_file_format format;
    uint32_t gguf_version;
    tf_metadata meta;
    tf_tensor_table tensors;
    tf_hparams hparams;
    tinfer_tokenizer *tokenizer;       /* NULL when the model carries none */
    const char *name;                  /* general.name or "" */
    tf_network *network;               /* bound once at load; NULL when the model cannot run, */
    tinfer_status network_status;      /* ... and then why: the status and message that context */
    char *network_error;               /* creation reports */
    tf_device_weights *device_weights; /* copies of the weights in device memory, per device */
};

/* Loads path (a .gguf, a .safetensors, or an HF directory) into a new model. */
tinfer_status tf_model_load(const char *path, const tinfer_model_params *params,
                            tinfer_model **out);
void tf_model_free(tinfer_model *model);

#endif
