/* Model loading: find the files a path names, parse them into one metadata store and one tensor
 * table, then read the hyper-parameters. Format readers know nothing of models; this file is where
 * their results meet. */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "format/gguf.h"
#include "format/hf_config.h"
#include "format/safetensors.h"
#include "model/device_weights.h"
#include "model/network.h"
#include "tokenizer/tokenizer.h"

enum {
    MAX_JSON_FILE_BYTES = 64 * 1024 * 1024, /* config.json and index files are kilobytes */
    MAX_SHARDS = 4096
};

static bool is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool ends_with(const char *text, const char *suffix) {
    size_t text_len = strlen(text), suffix_len = strlen(suffix);
    return text_len >= suffix_len && strcmp(text + text_len - suffix_len, suffix) == 0;
}

/* dir + "/" + name into a new heap string; NULL when out of memory. */
static char *join_path(const char *dir, const char *name) {
    size_t len = strlen(dir) + 1 + strlen(name) + 1;
    char *path = malloc(len);
    if (path) snprintf(path, len, "%s/%s", dir, name);
    return path;
}

static tinfer_status add_file(tinfer_model *model, const char *path, bool use_mmap,
                              tf_mapped_file **out_file) {
    tf_mapped_file *grown = realloc(model->files, (model->n_files + 1) * sizeof *grown);
    if (!grown) return tf_error(TINFER_E_NOMEM, "out of memory for the file list");
    model->files = grown;
    tinfer_status status = tf_mapped_file_open(path, use_mmap, &model->files[model->n_files]);
    if (status != TINFER_OK) return status;
    *out_file = &model->files[model->n_files++];
    return TINFER_OK;
}

static tinfer_status load_gguf(tinfer_model *model, const tf_mapped_file *file) {
    model->format = TINFER_FORMAT_GGUF;
    tinfer_status status = tf_gguf_read(file->bytes, file->size, (uint32_t)(model->n_files - 1),
                                        &model->meta, &model->tensors, &model->gguf_version);
    if (status != TINFER_OK) return status;
    /* a GGUF without tokenizer.ggml.* keys is still a model (weights only) */
    status = tf_tokenizer_from_metadata(&model->meta, &model->tokenizer);
    if (status == TINFER_E_NOT_FOUND) {
        tf_error_clear();
        status = TINFER_OK;
    }
    return status;
}

static tinfer_status load_safetensors_file(tinfer_model *model, const char *path, bool use_mmap) {
    tf_mapped_file *file = NULL;
    tinfer_status status = add_file(model, path, use_mmap, &file);
    if (status != TINFER_OK) return status;
    model->format = TINFER_FORMAT_SAFETENSORS;
    status = tf_safetensors_read(file->bytes, file->size, (uint32_t)(model->n_files - 1),
                                 &model->meta, &model->tensors);
    if (status != TINFER_OK) tf_error_prefix(path);
    return status;
}

static tinfer_status load_config(tinfer_model *model, const char *dir) {
    char *config_path = join_path(dir, "config.json");
    if (!config_path) return tf_error(TINFER_E_NOMEM, "out of memory");
    char *text = NULL;
    size_t len = 0;
    tinfer_status status = TINFER_E_IO;
    if (!file_exists(config_path))
        tf_error(TINFER_E_IO,
                 "%s: no config.json (a model directory needs config.json and "
                 "*.safetensors)",
                 dir);
    else if ((status = tf_read_text_file(config_path, MAX_JSON_FILE_BYTES, &text, &len)) ==
                 TINFER_OK &&
             (status = tf_hf_config_read(text, len, &model->meta)) != TINFER_OK)
        tf_error_prefix(config_path);
    free(text);
    free(config_path);
    return status;
}

/* The shard names listed by model.safetensors.index.json, or just model.safetensors. */
static tinfer_status list_shards(const char *dir, char ***out_names, size_t *out_n) {
    char *index_path = join_path(dir, "model.safetensors.index.json");
    if (!index_path) return tf_error(TINFER_E_NOMEM, "out of memory");
    tinfer_status status;
    if (file_exists(index_path)) {
        char *text = NULL;
        size_t len = 0;
        status = tf_read_text_file(index_path, MAX_JSON_FILE_BYTES, &text, &len);
        if (status == TINFER_OK) status = tf_safetensors_index_read(text, len, out_names, out_n);
        if (status == TINFER_OK && *out_n > MAX_SHARDS) {
            tf_safetensors_index_free(*out_names, *out_n);
            status = tf_error(TINFER_E_FORMAT, "lists %zu shards (limit %d)", *out_n, MAX_SHARDS);
        }
        if (status != TINFER_OK) tf_error_prefix(index_path);
        free(text);
    } else {
        char **names = calloc(1, sizeof *names);
        char *name = names ? malloc(sizeof "model.safetensors") : NULL;
        if (!name) {
            free(names);
            status = tf_error(TINFER_E_NOMEM, "out of memory");
        } else {
            memcpy(name, "model.safetensors", sizeof "model.safetensors");
            names[0] = name;
            *out_names = names;
            *out_n = 1;
            status = TINFER_OK;
        }
    }
    free(index_path);
    return status;
}

/* tokenizer.json (plain or .zst) beside the weights, when the directory has one. */
static tinfer_status load_hf_tokenizer(tinfer_model *model, const char *dir) {
    char *plain = join_path(dir, "tokenizer.json"), *packed = join_path(dir, "tokenizer.json.zst");
    tinfer_status status = TINFER_OK;
    if (!plain || !packed) status = tf_error(TINFER_E_NOMEM, "out of memory");
    else if (file_exists(plain) || file_exists(packed))
        status = tf_tokenizer_from_hf_dir(dir, &model->tokenizer);
    free(plain);
    free(packed);
    return status;
}

static tinfer_status load_hf_directory(tinfer_model *model, const char *dir, bool use_mmap) {
    tinfer_status status = load_config(model, dir);
    if (status == TINFER_OK) status = load_hf_tokenizer(model, dir);
    if (status != TINFER_OK) return status;
    char **shard_names = NULL;
    size_t n_shards = 0;
    if ((status = list_shards(dir, &shard_names, &n_shards)) != TINFER_OK) return status;
    for (size_t i = 0; i < n_shards && status == TINFER_OK; i++) {
        char *shard_path = join_path(dir, shard_names[i]);
        status = shard_path ? load_safetensors_file(model, shard_path, use_mmap)
                            : tf_error(TINFER_E_NOMEM, "out of memory");
        free(shard_path);
    }
    tf_safetensors_index_free(shard_names, n_shards);
    return status;
}

static tinfer_status load_single_file(tinfer_model *model, const char *path, bool use_mmap) {
    tf_mapped_file *file = NULL;
    tinfer_status status = add_file(model, path, use_mmap, &file);
    if (status != TINFER_OK) return status;
    if (tf_gguf_has_magic(file->bytes, file->size)) {
        status = load_gguf(model, file);
    } else if (ends_with(path, ".safetensors")) {
        model->format = TINFER_FORMAT_SAFETENSORS;
        status = tf_safetensors_read(file->bytes, file->size, 0, &model->meta, &model->tensors);
    } else {
        return tf_error(TINFER_E_FORMAT,
                        "%s: neither a GGUF file (no 'GGUF' magic) nor a .safetensors file nor "
                        "a model directory",
                        path);
    }
    if (status != TINFER_OK) tf_error_prefix(path);
    return status;
}

tinfer_status tf_model_load(const char *path, const tinfer_model_params *params,
                            tinfer_model **out) {
    tinfer_model *model = calloc(1, sizeof *model);
    if (!model) return tf_error(TINFER_E_NOMEM, "out of memory for the model");
    tinfer_status status = is_directory(path) ? load_hf_directory(model, path, params->use_mmap)
                                              : load_single_file(model, path, params->use_mmap);
    if (status == TINFER_OK) {
        status = tf_hparams_read(&model->meta, &model->tensors, &model->hparams);
        if (status != TINFER_OK) tf_error_prefix(path);
    }
    if (status == TINFER_OK) status = tf_network_bind(model);
    if (status == TINFER_OK) status = tf_device_weights_create(&model->device_weights);
    if (status != TINFER_OK) {
        tf_model_free(model);
        return status;
    }
    const char *name = tf_meta_get_str(&model->meta, "general.name");
    model->name = name ? name : "";
    *out = model;
    return TINFER_OK;
}

void tf_model_free(tinfer_model *model) {
    if (!model) return;
    tf_device_weights_free(model->device_weights);
    for (size_t i = 0; i < model->n_files; i++) tf_mapped_file_close(&model->files[i]);
    free(model->files);
    tf_metadata_free(&model->meta);
    tf_tensor_table_free(&model->tensors);
    tf_tokenizer_free(model->tokenizer);
    tf_network_free(model->network);
    free(model->network_error);
    free(model);
}
