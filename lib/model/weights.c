/* Weight binding: GGUF names and their Hugging Face equivalents, mapped onto the same slots. */
#include "model/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "quant/dequant.h"
#include "quant/dtype.h"

/* How the binder finds one tensor: its GGUF name and its Hugging Face name ("%u" = layer). */
typedef struct tensor_names {
    const char *gguf;
    const char *hf;
} tensor_names;

typedef struct binder {
    const tinfer_model *model;
    const tf_arch_traits *traits;
    float *next_vector; /* bump pointer into the vector storage (NULL while counting) */
    size_t vector_floats;
    size_t max_row_elems;
} binder;

static const tf_tensor *find_tensor(const binder *b, tensor_names names, unsigned layer,
                                    char *name_out, size_t name_cap) {
    const bool gguf = b->model->format == TINFER_FORMAT_GGUF;
    snprintf(name_out, name_cap, gguf ? names.gguf : names.hf, layer);
    return tf_tensor_table_find(&b->model->tensors, name_out);
}

static tinfer_status missing(const char *name, const binder *b) {
    return tf_error(TINFER_E_FORMAT, "tensor '%s' is missing (%s needs it)", name,
                    b->model->hparams.arch_name);
}

static tinfer_status bind_matrix(binder *b, tensor_names names, unsigned layer, uint32_t n_rows,
                                 uint32_t row_elems, bool required, tf_matrix *out) {
    char name[128];
    const tf_tensor *t = find_tensor(b, names, layer, name, sizeof name);
    if (!t) return required ? missing(name, b) : TINFER_OK;
    if (t->n_dims != 2 || (uint64_t)t->shape[0] != n_rows || (uint64_t)t->shape[1] != row_elems)
        return tf_error(TINFER_E_FORMAT,
                        "tensor '%s': shape [%lld, %lld] (%u dims), but %s needs [%u, %u]", name,
                        (long long)t->shape[0], (long long)(t->n_dims > 1 ? t->shape[1] : 0),
                        t->n_dims, b->model->hparams.arch_name, n_rows, row_elems);
    const tf_dtype_traits *dt = tf_dtype_traits_of((uint32_t)t->dtype);
    if (!dt || !tf_dequant_fn_of(t->dtype))
        return tf_error(TINFER_E_UNSUPPORTED, "tensor '%s': no kernel for dtype %s", name,
                        dt ? dt->name : "unknown");
    uint64_t row_bytes, total;
    if (row_elems % dt->block_elems != 0 ||
        !tinfer_mul_u64(row_elems / dt->block_elems, dt->block_bytes, &row_bytes) ||
        !tinfer_mul_u64(row_bytes, n_rows, &total) || total > t->n_bytes)
        return tf_error(TINFER_E_FORMAT, "tensor '%s': %llu bytes do not hold [%u, %u] of %s", name,
                        (unsigned long long)t->n_bytes, n_rows, row_elems, dt->name);
    *out = (tf_matrix){.data = t->data,
                       .dtype = t->dtype,
                       .n_rows = n_rows,
                       .row_elems = row_elems,
                       .row_bytes = (size_t)row_bytes};
    if (row_elems > b->max_row_elems) b->max_row_elems = row_elems;
    return TINFER_OK;
}

/* A 1-D tensor of n elements, converted to float32 (plus 1 for Hugging Face Gemma norms). While
 * counting (next_vector NULL) only the space is added up. */
static tinfer_status bind_vector(binder *b, tensor_names names, unsigned layer, uint32_t n,
                                 bool required, bool is_norm, const float **out) {
    char name[128];
    const tf_tensor *t = find_tensor(b, names, layer, name, sizeof name);
    if (!t) return required ? missing(name, b) : TINFER_OK;
    if (t->n_dims != 1 || (uint64_t)t->shape[0] != n)
        return tf_error(TINFER_E_FORMAT, "tensor '%s': shape [%lld] (%u dims), but %s needs [%u]",
                        name, (long long)t->shape[0], t->n_dims, b->model->hparams.arch_name, n);
    if (!b->next_vector) {
        b->vector_floats += n;
        return TINFER_OK;
    }
    tinfer_status status = tf_dequantize_row(t->dtype, t->data, b->next_vector, n);
    if (status != TINFER_OK) {
        tf_error_prefix(name);
        return status;
    }
    if (is_norm && b->traits->norm_plus_one)
        for (uint32_t i = 0; i < n; i++) b->next_vector[i] += 1.0f;
    *out = b->next_vector;
    b->next_vector += n;
    return TINFER_OK;
}

#define HF_LAYER "model.layers.%u."

static tinfer_status bind_attention(binder *b, unsigned l, tf_layer_weights *w) {
    const tf_hparams *hp = &b->model->hparams;
    const tf_arch_traits *tr = b->traits;
    const uint32_t q_rows = hp->n_head * hp->head_dim, k_rows = hp->n_head_kv * hp->head_dim;
    const uint32_t v_rows = hp->n_head_kv * hp->head_dim_v, o_cols = hp->n_head * hp->head_dim_v;
    tinfer_status s;
    if ((s = bind_vector(
             b, (tensor_names){"blk.%u.attn_norm.weight", HF_LAYER "input_layernorm.weight"}, l,
             hp->n_embd, true, true, &w->attn_norm)) ||
        (s = bind_matrix(b,
                         (tensor_names){"blk.%u.attn_q.weight", HF_LAYER "self_attn.q_proj.weight"},
                         l, q_rows, hp->n_embd, true, &w->wq)) ||
        (s = bind_matrix(b,
                         (tensor_names){"blk.%u.attn_k.weight", HF_LAYER "self_attn.k_proj.weight"},
                         l, k_rows, hp->n_embd, true, &w->wk)) ||
        (s = bind_matrix(b,
                         (tensor_names){"blk.%u.attn_v.weight", HF_LAYER "self_attn.v_proj.weight"},
                         l, v_rows, hp->n_embd, true, &w->wv)) ||
        (s = bind_matrix(
             b, (tensor_names){"blk.%u.attn_output.weight", HF_LAYER "self_attn.o_proj.weight"}, l,
             hp->n_embd, o_cols, true, &w->wo)))
        return s;
    if (tr->has_qkv_bias &&
        ((s = bind_vector(b, (tensor_names){"blk.%u.attn_q.bias", HF_LAYER "self_attn.q_proj.bias"},
                          l, q_rows, true, false, &w->bq)) ||
         (s = bind_vector(b, (tensor_names){"blk.%u.attn_k.bias", HF_LAYER "self_attn.k_proj.bias"},
                          l, k_rows, true, false, &w->bk)) ||
         (s = bind_vector(b, (tensor_names){"blk.%u.attn_v.bias", HF_LAYER "self_attn.v_proj.bias"},
                          l, v_rows, true, false, &w->bv))))
        return s;
    if (tr->has_qk_norm &&
        ((s = bind_vector(
              b, (tensor_names){"blk.%u.attn_q_norm.weight", HF_LAYER "self_attn.q_norm.weight"}, l,
              hp->head_dim, true, true, &w->q_norm)) ||
         (s = bind_vector(
              b, (tensor_names){"blk.%u.attn_k_norm.weight", HF_LAYER "self_attn.k_norm.weight"}, l,
              hp->head_dim, true, true, &w->k_norm))))
        return s;
    return TINFER_OK;
}

static tinfer_status bind_ffn(binder *b, unsigned l, tf_layer_weights *w) {
    const tf_hparams *hp = &b->model->hparams;
    const bool post = b->traits->post_norms;
    /* Hugging Face calls the pre-FFN norm post_attention_layernorm in Llama/Qwen, while Gemma
     * uses that name for the norm after attention and calls the pre-FFN one
     * pre_feedforward_layernorm. */
    const char *hf_ffn_norm = post ? HF_LAYER "pre_feedforward_layernorm.weight"
                                   : HF_LAYER "post_attention_layernorm.weight";
    tinfer_status s;
    if ((s = bind_vector(b, (tensor_names){"blk.%u.ffn_norm.weight", hf_ffn_norm}, l, hp->n_embd,
                         true, true, &w->ffn_norm)) ||
        (s = bind_matrix(b,
                         (tensor_names){"blk.%u.ffn_gate.weight", HF_LAYER "mlp.gate_proj.weight"},
                         l, hp->n_ff, hp->n_embd, true, &w->ffn_gate)) ||
        (s = bind_matrix(b, (tensor_names){"blk.%u.ffn_up.weight", HF_LAYER "mlp.up_proj.weight"},
                         l, hp->n_ff, hp->n_embd, true, &w->ffn_up)) ||
        (s = bind_matrix(b,
                         (tensor_names){"blk.%u.ffn_down.weight", HF_LAYER "mlp.down_proj.weight"},
                         l, hp->n_embd, hp->n_ff, true, &w->ffn_down)))
        return s;
    if (post && ((s = bind_vector(b,
                                  (tensor_names){"blk.%u.post_attention_norm.weight",
                                                 HF_LAYER "post_attention_layernorm.weight"},
                                  l, hp->n_embd, true, true, &w->post_attn_norm)) ||
                 (s = bind_vector(b,
                                  (tensor_names){"blk.%u.post_ffw_norm.weight",
                                                 HF_LAYER "post_feedforward_layernorm.weight"},
                                  l, hp->n_embd, true, true, &w->post_ffn_norm))))
        return s;
    return TINFER_OK;
}

static tinfer_status bind_globals(binder *b, tf_weights *w) {
    const tf_hparams *hp = &b->model->hparams;
    tinfer_status s;
    if ((s = bind_matrix(b, (tensor_names){"token_embd.weight", "model.embed_tokens.weight"}, 0,
                         hp->n_vocab, hp->n_embd, true, &w->token_embd)) ||
        (s = bind_vector(b, (tensor_names){"output_norm.weight", "model.norm.weight"}, 0,
                         hp->n_embd, true, true, &w->output_norm)) ||
        (s = bind_matrix(b, (tensor_names){"output.weight", "lm_head.weight"}, 0, hp->n_vocab,
                         hp->n_embd, false, &w->output)) ||
        (s = bind_vector(b, (tensor_names){"rope_freqs.weight", "rope_freqs.weight"}, 0,
                         hp->head_dim / 2, false, false, &w->rope_freqs)))
        return s;
    if (!w->output.data) w->output = w->token_embd; /* tied embeddings */
    return TINFER_OK;
}

static tinfer_status bind_all(binder *b, tf_weights *w) {
    tinfer_status s = bind_globals(b, w);
    for (unsigned l = 0; l < w->n_layer && s == TINFER_OK; l++)
        if ((s = bind_attention(b, l, &w->layers[l])) == TINFER_OK)
            s = bind_ffn(b, l, &w->layers[l]);
    return s;
}

tinfer_status tf_weights_bind(const tinfer_model *model, const tf_arch_traits *traits,
                              tf_weights *out) {
    *out = (tf_weights){.n_layer = model->hparams.n_layer};
    /* Every layer has at least four matrices: a count above the table's size is a lie that must
     * not size an allocation. */
    if (out->n_layer > model->tensors.n_tensors)
        return tf_error(TINFER_E_FORMAT, "block_count %u exceeds the file's %zu tensors",
                        out->n_layer, model->tensors.n_tensors);
    out->layers = calloc(out->n_layer, sizeof *out->layers);
    if (!out->layers) return tf_error(TINFER_E_NOMEM, "out of memory for %u layers", out->n_layer);
    /* Two passes: the first checks every tensor and counts the float32 copies, the second fills
     * them, so the copies live in one allocation. */
    binder b = {.model = model, .traits = traits};
    tinfer_status status = bind_all(&b, out);
    if (status == TINFER_OK) {
        out->vector_storage = calloc(b.vector_floats ? b.vector_floats : 1, sizeof(float));
        b.next_vector = out->vector_storage;
        status = out->vector_storage ? bind_all(&b, out)
                                     : tf_error(TINFER_E_NOMEM, "out of memory for norm weights");
    }
    out->max_row_elems = b.max_row_elems;
    out->vector_floats = b.vector_floats;
    if (status != TINFER_OK) tf_weights_free(out);
    return status;
}

void tf_weights_free(tf_weights *weights) {
    free(weights->layers);
    free(weights->vector_storage);
    *weights = (tf_weights){0};
}
