/* Which model and cache a snapshot belongs to: the widths a context's rows have, and a 64-bit
 * fingerprint of the model's metadata and tensor table, so a snapshot never loads into another
 * model whose shapes happen to agree (another fine-tune, another quantization). */
#include "snapshot/snapshot.h"

#include <string.h>

#include "context/context.h"
#include "format/metadata.h"
#include "format/tensor_table.h"
#include "model/model.h"

static uint64_t hash_u64(uint64_t h, uint64_t v) { return tf_snap_hash(h, &v, sizeof v); }

static uint64_t hash_str(uint64_t h, const char *ptr, uint64_t len) {
    return tf_snap_hash(hash_u64(h, len), ptr, (size_t)len);
}

/* A value as the store holds it: its type, then the number (as its 64-bit form), the string or
 * the array's element type, count and elements. Nesting is at most 8 deep (the GGUF reader's
 * bound). */
static uint64_t hash_value(uint64_t h, const tf_meta_value *v) {
    h = hash_u64(h, (uint64_t)v->type);
    switch (v->type) {
    case TINFER_META_STRING:
        return hash_str(h, v->as.str.ptr, v->as.str.len);
    case TINFER_META_BOOL:
        return hash_u64(h, v->as.boolean);
    case TINFER_META_F32:
    case TINFER_META_F64: {
        uint64_t bits;
        memcpy(&bits, &v->as.f64, sizeof bits);
        return hash_u64(h, bits);
    }
    case TINFER_META_I8:
    case TINFER_META_I16:
    case TINFER_META_I32:
    case TINFER_META_I64:
        return hash_u64(h, (uint64_t)v->as.i64);
    case TINFER_META_ARRAY:
        break;
    default:
        return hash_u64(h, v->as.u64);
    }
    const tf_meta_array *a = &v->as.array;
    h = hash_u64(hash_u64(h, (uint64_t)a->elem_type), a->n_elems);
    if (a->elem_type == TINFER_META_STRING) {
        for (uint64_t j = 0; a->strings && j < a->n_elems; j++)
            h = hash_str(h, a->strings[j].ptr, a->strings[j].len);
    } else if (a->elem_type == TINFER_META_ARRAY) {
        for (uint64_t j = 0; a->nested && j < a->n_elems; j++) h = hash_value(h, &a->nested[j]);
    } else if (a->raw) {
        h = tf_snap_hash(h, a->raw, (size_t)a->n_elems * tf_meta_scalar_size(a->elem_type));
    }
    return h;
}

uint64_t tf_snapshot_fingerprint(const tinfer_model *model) {
    uint64_t h = TF_SNAP_HASH_SEED;
    const tf_metadata *meta = &model->meta;
    h = hash_u64(h, meta->n_entries);
    for (size_t i = 0; i < meta->n_entries; i++) {
        const char *key = meta->entries[i].key;
        h = hash_value(hash_str(h, key, strlen(key)), &meta->entries[i].value);
    }
    const tf_tensor_table *table = &model->tensors;
    h = hash_u64(h, table->n_tensors);
    for (size_t i = 0; i < table->n_tensors; i++) {
        const tf_tensor *t = &table->tensors[i];
        h = hash_str(h, t->name, strlen(t->name));
        h = hash_u64(hash_u64(h, (uint64_t)t->dtype), t->n_dims);
        for (uint32_t d = 0; d < t->n_dims && d < TINFER_MAX_DIMS; d++)
            h = hash_u64(h, (uint64_t)t->shape[d]);
    }
    return h;
}

void tf_snapshot_model_of(const tinfer_context *ctx, tf_snap_model *out) {
    const tf_hparams *hp = &ctx->model->hparams;
    *out = (tf_snap_model){.fingerprint = tf_snapshot_fingerprint(ctx->model),
                           .arch = (uint32_t)hp->arch,
                           .n_layer = hp->n_layer,
                           .n_embd = hp->n_embd,
                           .n_head_kv = hp->n_head_kv,
                           .head_dim = hp->head_dim,
                           .head_dim_v = hp->head_dim_v,
                           .n_vocab = ctx->n_vocab,
                           .sliding_window = hp->sliding_window,
                           .kv_dtype = (uint32_t)ctx->params.kv_dtype};
}
