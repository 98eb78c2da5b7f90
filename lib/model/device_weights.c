/* The per-model registry of device weight copies, and the host regions a device copies. */
#include "model/device_weights.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/error.h"
#include "model/network.h"

typedef struct device_copy {
    tinfer_device_kind device;
    int32_t index;
    void *copy;
    void (*release)(void *copy);
} device_copy;

struct tf_device_weights {
    pthread_mutex_t lock;
    device_copy *copies;
    size_t n, cap;
};

tinfer_status tf_device_weights_create(tf_device_weights **out) {
    tf_device_weights *registry = calloc(1, sizeof *registry);
    if (!registry || pthread_mutex_init(&registry->lock, NULL) != 0) {
        free(registry);
        return tf_error(TINFER_E_NOMEM, "out of memory for the device weight registry");
    }
    *out = registry;
    return TINFER_OK;
}

void tf_device_weights_free(tf_device_weights *registry) {
    if (!registry) return;
    for (size_t i = 0; i < registry->n; i++) registry->copies[i].release(registry->copies[i].copy);
    free(registry->copies);
    pthread_mutex_destroy(&registry->lock);
    free(registry);
}

/* The region of mapped file f that holds tensor data, or none. */
static bool file_region(const tinfer_model *model, const tf_mapped_file *f, tf_weight_region *out) {
    const uint8_t *first = NULL, *end = NULL;
    for (size_t i = 0; i < model->tensors.n_tensors; i++) {
        const tf_tensor *t = &model->tensors.tensors[i];
        const uint8_t *data = t->data;
        if (!data || data < f->bytes || data >= f->bytes + f->size) continue;
        if (!first || data < first) first = data;
        if (!end || data + t->n_bytes > end) end = data + t->n_bytes;
    }
    if (!first) return false;
    *out = (tf_weight_region){.host = first, .bytes = (size_t)(end - first)};
    return true;
}

size_t tf_model_weight_regions(const tinfer_model *model, tf_weight_region *out, size_t cap) {
    const tf_network *net = model->network;
    size_t n = 0;
    tf_weight_region r;
    for (size_t i = 0; i < model->n_files; i++)
        if (file_region(model, &model->files[i], &r) && n < cap) out[n++] = r;
    if (net && net->weights.vector_storage && n < cap)
        out[n++] = (tf_weight_region){.host = net->weights.vector_storage,
                                      .bytes = net->weights.vector_floats * sizeof(float)};
    if (net && net->rope_scaling.freq_factors && n < cap)
        out[n++] = (tf_weight_region){.host = net->rope_scaling.freq_factors,
                                      .bytes = model->hparams.head_dim / 2 * sizeof(float)};
    return n;
}

/* Whether bytes lie in one of the model's files that is mapped (not read into memory). */
static bool in_mapping(const tinfer_model *model, const uint8_t *bytes) {
    for (size_t i = 0; i < model->n_files; i++) {
        const tf_mapped_file *f = &model->files[i];
        if (f->is_mapped && f->bytes && bytes >= f->bytes && bytes < f->bytes + f->size)
            return true;
    }
    return false;
}

/* m into out[*n] unless a matrix with its bytes is there already (a tied output head). */
static void add_matrix(const tinfer_model *model, const tf_matrix *m, tf_weight_matrix *out,
                       size_t *n) {
    if (!m->data) return;
    for (size_t i = 0; i < *n; i++)
        if (out[i].matrix.data == m->data) return;
    out[(*n)++] = (tf_weight_matrix){.matrix = *m, .in_mapping = in_mapping(model, m->data)};
}

enum { MATRICES_PER_LAYER = 7 };

/* The network's matrices (the embedding table is read by rows, not multiplied: only as the tied
 * output head), each once; *n their count (at most 1 + 7 per layer). */
static tf_weight_matrix *network_matrices(const tinfer_model *model, size_t *n) {
    *n = 0;
    const tf_network *net = model->network;
    if (!net) return NULL;
    const tf_weights *w = &net->weights;
    tf_weight_matrix *out = calloc(1 + (size_t)w->n_layer * MATRICES_PER_LAYER, sizeof *out);
    if (!out) return NULL;
    add_matrix(model, &w->output, out, n);
    for (uint32_t l = 0; l < w->n_layer; l++) {
        const tf_layer_weights *lw = &w->layers[l];
        const tf_matrix *const m[MATRICES_PER_LAYER] = {
            &lw->wq, &lw->wk, &lw->wv, &lw->wo, &lw->ffn_gate, &lw->ffn_up, &lw->ffn_down};
        for (int i = 0; i < MATRICES_PER_LAYER; i++) add_matrix(model, m[i], out, n);
    }
    return out;
}

static tinfer_status upload(const tinfer_model *model, tf_backend *be, void **copy) {
    const size_t cap = model->n_files + 2;
    tf_weight_region *regions = calloc(cap, sizeof *regions);
    size_t n_matrices = 0;
    tf_weight_matrix *matrices = network_matrices(model, &n_matrices);
    if (!regions || (model->network && !matrices)) {
        free(regions);
        free(matrices);
        return tf_error(TINFER_E_NOMEM, "out of memory for the weight regions");
    }
    const tf_weight_regions list = {.regions = regions,
                                    .n = tf_model_weight_regions(model, regions, cap),
                                    .matrices = matrices,
                                    .n_matrices = n_matrices};
    const tinfer_status status = be->ops->upload_weights(be, &list, copy);
    free(regions);
    free(matrices);
    return status;
}

static tinfer_status find_or_upload(tf_device_weights *r, const tinfer_model *model, tf_backend *be,
                                    void **copy) {
    for (size_t i = 0; i < r->n; i++)
        if (r->copies[i].device == be->device && r->copies[i].index == be->device_index) {
            *copy = r->copies[i].copy;
            return TINFER_OK;
        }
    if (r->n == r->cap) {
        const size_t cap = r->cap ? 2 * r->cap : 2;
        device_copy *grown = realloc(r->copies, cap * sizeof *grown);
        if (!grown) return tf_error(TINFER_E_NOMEM, "out of memory for a device weight copy");
        r->copies = grown;
        r->cap = cap;
    }
    tinfer_status status = upload(model, be, copy);
    if (status == TINFER_OK)
        r->copies[r->n++] = (device_copy){.device = be->device,
                                          .index = be->device_index,
                                          .copy = *copy,
                                          .release = be->ops->release_weights};
    return status;
}

tinfer_status tf_model_bind_device(const tinfer_model *model, tf_backend *be) {
    if (!be->ops->upload_weights) return TINFER_OK;
    tf_device_weights *r = model->device_weights;
    void *copy = NULL;
    pthread_mutex_lock(&r->lock);
    const tinfer_status status = find_or_upload(r, model, be, &copy);
    pthread_mutex_unlock(&r->lock);
    if (status == TINFER_OK) be->ops->use_weights(be, copy);
    return status;
}
