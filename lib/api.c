/* Public entry points for models: argument checks, then calls inward. */
#include <string.h>

#include "core/abi_struct.h"
#include "core/error.h"
#include "format/metadata_text.h"
#include "model/model.h"

static const tf_abi_field model_params_fields[] = {
    TF_ABI_FIELD(tinfer_model_params, use_mmap), /* 0.1 */
};
static const tf_abi_layout model_params_layout = {
    "tinfer_model_params", sizeof(tinfer_model_params), model_params_fields,
    sizeof model_params_fields / sizeof model_params_fields[0], 1};

static const tinfer_model_params model_params_defaults = {.use_mmap = true};

TINFER_API void tinfer_model_params_init(tinfer_model_params *params, size_t size) {
    tf_abi_params_init(&model_params_layout, &model_params_defaults, params, size,
                       "tinfer_model_params_init");
}

TINFER_API tinfer_status tinfer_model_load(const char *path, const tinfer_model_params *params,
                                           size_t params_size, tinfer_model **out) {
    tf_error_clear();
    TF_CHECK_ARG(path && *path, "tinfer_model_load: path is NULL or empty");
    TF_CHECK_ARG(out, "tinfer_model_load: out is NULL");
    tinfer_model_params p = model_params_defaults;
    tinfer_status status =
        tf_abi_params_read(&model_params_layout, params, params_size, &p, "tinfer_model_load");
    if (status != TINFER_OK) return status;
    return tf_model_load(path, &p, out);
}

TINFER_API void tinfer_model_free(tinfer_model *model) { tf_model_free(model); }

TINFER_API const tinfer_tokenizer *tinfer_model_tokenizer(const tinfer_model *model) {
    return model ? model->tokenizer : NULL;
}

TINFER_API tinfer_status tinfer_model_get_info(const tinfer_model *model, tinfer_model_info *out,
                                               size_t out_size) {
    tf_error_clear();
    TF_CHECK_ARG(model && out, "tinfer_model_get_info: model or out is NULL");
    const tf_hparams *hp = &model->hparams;
    tinfer_model_info info = {
        .architecture = hp->arch_name,
        .name = model->name,
        .format = model->format,
        .gguf_version = model->gguf_version,
        .n_tensors = model->tensors.n_tensors,
        .n_vocab = hp->n_vocab,
        .n_ctx_train = hp->n_ctx_train,
        .n_embd = hp->n_embd,
        .n_layer = hp->n_layer,
        .n_head = hp->n_head,
        .n_head_kv = hp->n_head_kv,
        .head_dim = hp->head_dim,
        .head_dim_v = hp->head_dim_v,
        .n_ff = hp->n_ff,
        .sliding_window = hp->sliding_window,
        .rms_norm_eps = hp->rms_norm_eps,
        .rope_freq_base = hp->rope_freq_base,
        .rope_freq_base_local = hp->rope_freq_base_local,
    };
    for (size_t i = 0; i < model->tensors.n_tensors; i++) {
        info.n_params += model->tensors.tensors[i].n_elements;
        info.weight_bytes += model->tensors.tensors[i].n_bytes;
    }
    return tf_abi_info_write(&info, sizeof info, out, out_size, "tinfer_model_get_info");
}

/* ---- metadata ---- */

TINFER_API size_t tinfer_model_meta_count(const tinfer_model *model) {
    return model ? model->meta.n_entries : 0;
}

TINFER_API const char *tinfer_model_meta_key(const tinfer_model *model, size_t i) {
    return model && i < model->meta.n_entries ? model->meta.entries[i].key : NULL;
}

TINFER_API tinfer_status tinfer_model_meta_find(const tinfer_model *model, const char *key,
                                                size_t *index) {
    tf_error_clear();
    TF_CHECK_ARG(model && key && index, "tinfer_model_meta_find: model, key or index is NULL");
    if (!tf_name_index_get(&model->meta.by_key, key, index))
        return tf_error(TINFER_E_NOT_FOUND, "no metadata key '%s'", key);
    return TINFER_OK;
}

TINFER_API tinfer_status tinfer_model_meta_type(const tinfer_model *model, size_t i,
                                                tinfer_meta_type *type, tinfer_meta_type *elem_type,
                                                uint64_t *n_elems) {
    tf_error_clear();
    TF_CHECK_ARG(model && type, "tinfer_model_meta_type: model or type is NULL");
    TF_CHECK_ARG(i < model->meta.n_entries, "tinfer_model_meta_type: index %zu out of range (%zu)",
                 i, model->meta.n_entries);
    const tf_meta_value *value = &model->meta.entries[i].value;
    bool is_array = value->type == TINFER_META_ARRAY;
    *type = value->type;
    if (elem_type) *elem_type = is_array ? value->as.array.elem_type : value->type;
    if (n_elems) *n_elems = is_array ? value->as.array.n_elems : 1;
    return TINFER_OK;
}

TINFER_API const char *tinfer_model_meta_str(const tinfer_model *model, const char *key) {
    return model && key ? tf_meta_get_str(&model->meta, key) : NULL;
}

static tinfer_status missing_or_mistyped(const tinfer_model *model, const char *key,
                                         const char *wanted) {
    if (!tf_meta_get(&model->meta, key))
        return tf_error(TINFER_E_NOT_FOUND, "no metadata key '%s'", key);
    return tf_error(TINFER_E_TYPE, "metadata '%s' is not %s", key, wanted);
}

TINFER_API tinfer_status tinfer_model_meta_int(const tinfer_model *model, const char *key,
                                               int64_t *value) {
    tf_error_clear();
    TF_CHECK_ARG(model && key && value, "tinfer_model_meta_int: model, key or value is NULL");
    if (!tf_meta_get_i64(&model->meta, key, value))
        return missing_or_mistyped(model, key, "an integer that fits in int64");
    return TINFER_OK;
}

TINFER_API tinfer_status tinfer_model_meta_float(const tinfer_model *model, const char *key,
                                                 double *value) {
    tf_error_clear();
    TF_CHECK_ARG(model && key && value, "tinfer_model_meta_float: model, key or value is NULL");
    if (!tf_meta_get_f64(&model->meta, key, value))
        return missing_or_mistyped(model, key, "a number");
    return TINFER_OK;
}

static tinfer_status finish_text(const tf_text_out *out, size_t *len) {
    *len = out->len;
    if (out->len >= out->cap)
        return tf_error(TINFER_E_BUFFER_TOO_SMALL, "%zu bytes needed (plus the NUL), %zu given",
                        out->len, out->cap);
    return TINFER_OK;
}

TINFER_API tinfer_status tinfer_model_meta_array_elem(const tinfer_model *model, size_t i,
                                                      uint64_t j, char *buf, size_t cap,
                                                      size_t *len) {
    tf_error_clear();
    TF_CHECK_ARG(model && len && (buf || cap == 0), "tinfer_model_meta_array_elem: NULL argument");
    TF_CHECK_ARG(i < model->meta.n_entries, "tinfer_model_meta_array_elem: index %zu out of range",
                 i);
    const tf_meta_value *value = &model->meta.entries[i].value;
    TF_CHECK_ARG(value->type == TINFER_META_ARRAY, "metadata '%s' is not an array",
                 model->meta.entries[i].key);
    TF_CHECK_ARG(j < value->as.array.n_elems, "metadata '%s': element %llu out of range (%llu)",
                 model->meta.entries[i].key, (unsigned long long)j,
                 (unsigned long long)value->as.array.n_elems);
    tf_text_out out = {buf, cap, 0};
    tf_meta_array_elem_render(&out, &value->as.array, j, SIZE_MAX);
    return finish_text(&out, len);
}

TINFER_API tinfer_status tinfer_model_meta_format(const tinfer_model *model, size_t i,
                                                  size_t max_elems, char *buf, size_t cap,
                                                  size_t *len) {
    tf_error_clear();
    TF_CHECK_ARG(model && len && (buf || cap == 0), "tinfer_model_meta_format: NULL argument");
    TF_CHECK_ARG(i < model->meta.n_entries, "tinfer_model_meta_format: index %zu out of range", i);
    tf_text_out out = {buf, cap, 0};
    tf_meta_value_render(&out, &model->meta.entries[i].value, max_elems);
    return finish_text(&out, len);
}

/* ---- tensors ---- */

TINFER_API size_t tinfer_model_tensor_count(const tinfer_model *model) {
    return model ? model->tensors.n_tensors : 0;
}

TINFER_API tinfer_status tinfer_model_tensor(const tinfer_model *model, size_t i,
                                             tinfer_tensor_info *out, size_t out_size) {
    tf_error_clear();
    TF_CHECK_ARG(model && out, "tinfer_model_tensor: model or out is NULL");
    TF_CHECK_ARG(i < model->tensors.n_tensors, "tinfer_model_tensor: index %zu out of range (%zu)",
                 i, model->tensors.n_tensors);
    const tf_tensor *t = &model->tensors.tensors[i];
    tinfer_tensor_info info = {
        .name = t->name,
        .dtype = t->dtype,
        .n_dims = t->n_dims,
        .n_elements = t->n_elements,
        .n_bytes = t->n_bytes,
        .file_offset = t->file_offset,
        .data = t->data,
    };
    memcpy(info.shape, t->shape, sizeof info.shape);
    return tf_abi_info_write(&info, sizeof info, out, out_size, "tinfer_model_tensor");
}

TINFER_API tinfer_status tinfer_model_tensor_find(const tinfer_model *model, const char *name,
                                                  size_t *index) {
    tf_error_clear();
    TF_CHECK_ARG(model && name && index, "tinfer_model_tensor_find: NULL argument");
    if (!tf_name_index_get(&model->tensors.by_name, name, index))
        return tf_error(TINFER_E_NOT_FOUND, "no tensor named '%s'", name);
    return TINFER_OK;
}
