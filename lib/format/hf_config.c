/* config.json → metadata under the key names llama.cpp's convert_hf_to_gguf.py writes, so the
 * model code reads one set of keys whichever format the weights came in. Where a field is absent
 * we write the default of the matching transformers config class (LlamaConfig, Qwen2Config,
 * Qwen3Config, Gemma3TextConfig), because that is what the model was trained with; the few keys
 * GGUF has no name for are ours and are marked so below. */
#include "format/hf_config.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"

enum { HF_COUNT_MAX = INT32_MAX };

typedef struct hf_arch {
    const char *name;     /* GGUF architecture name */
    const char *hf_class; /* architectures[0] */
    uint32_t heads;       /* defaults when the field is absent; 0 = the field is required */
    uint32_t head_dim;    /* 0 = hidden_size / num_attention_heads */
    uint32_t vocab_size;
    uint32_t context_length;
    double rope_theta;
    double rms_norm_eps;
    bool tie_embeddings;
} hf_arch;

/* Defaults from the transformers config classes. Gemma3TextConfig defaults nearly everything,
 * and real multimodal Gemma 3 configs (4b and up) rely on that: their text_config omits the
 * head counts and the vocabulary size, so for gemma3 those are not required. */
static const hf_arch HF_ARCHES[] = {
    {"llama", "LlamaForCausalLM", 0, 0, 0, 2048, 10000.0, 1e-6, false},
    {"qwen2", "Qwen2ForCausalLM", 0, 0, 0, 32768, 10000.0, 1e-6, false},
    {"qwen3", "Qwen3ForCausalLM", 0, 128, 0, 32768, 10000.0, 1e-6, false},
    {"gemma3", "Gemma3ForCausalLM", 8, 256, 262208, 131072, 1000000.0, 1e-6, true},
};
enum { HF_GEMMA3 = 3 };

typedef struct hf_reader {
    const json_t *cfg; /* the text model's fields (gemma3's text_config when nested) */
    const json_t *top; /* the whole file: multimodal configs keep token ids at the top */
    const hf_arch *arch;
    tf_metadata *meta;
    uint32_t vocab_size;
} hf_reader;

/* ---- reading fields: absent and null both mean "not given" ---- */

static const json_t *field_get(const json_t *obj, const char *field) {
    const json_t *value = obj ? json_object_get(obj, field) : NULL;
    return json_is_null(value) ? NULL : value;
}

static tinfer_status read_int(const json_t *obj, const char *where, const char *field, int64_t lo,
                              int64_t hi, bool *present, int64_t *out) {
    const json_t *value = field_get(obj, field);
    *present = value != NULL;
    if (!value) return TINFER_OK;
    if (!json_is_integer(value))
        return tf_error(TINFER_E_FORMAT, "config.json: field '%s%s' must be an integer", where,
                        field);
    long long number = json_integer_value(value);
    if (number < lo || number > hi)
        return tf_error(TINFER_E_FORMAT, "config.json: field '%s%s' = %lld is outside %lld..%lld",
                        where, field, number, (long long)lo, (long long)hi);
    *out = number;
    return TINFER_OK;
}

/* A count that must be given, or falls back to fallback when that is not 0. */
static tinfer_status read_count(const json_t *obj, const char *field, uint32_t fallback,
                                uint32_t *out) {
    bool present;
    int64_t value = 0;
    tinfer_status status = read_int(obj, "", field, 1, HF_COUNT_MAX, &present, &value);
    if (status != TINFER_OK) return status;
    if (!present && fallback == 0)
        return tf_error(TINFER_E_FORMAT, "config.json: missing field '%s'", field);
    *out = present ? (uint32_t)value : fallback;
    return TINFER_OK;
}

/* A positive float that fits in F32 (JSON integers are accepted: Qwen3 writes rope_theta so). */
static tinfer_status read_positive(const json_t *obj, const char *where, const char *field,
                                   bool *present, double *out) {
    const json_t *value = field_get(obj, field);
    *present = value != NULL;
    if (!value) return TINFER_OK;
    if (!json_is_number(value))
        return tf_error(TINFER_E_FORMAT, "config.json: field '%s%s' must be a number", where,
                        field);
    double number = json_number_value(value);
    if (!(number > 0) || !isfinite((float)number))
        return tf_error(TINFER_E_FORMAT,
                        "config.json: field '%s%s' = %g must be positive and fit in 32 bits", where,
                        field, number);
    *out = number;
    return TINFER_OK;
}

static tinfer_status read_bool(const json_t *obj, const char *field, bool *present, bool *out) {
    const json_t *value = field_get(obj, field);
    *present = value != NULL;
    if (!value) return TINFER_OK;
    if (!json_is_boolean(value))
        return tf_error(TINFER_E_FORMAT, "config.json: field '%s' must be true or false", field);
    *out = json_is_true(value);
    return TINFER_OK;
}

/* ---- writing keys ---- */

static tinfer_status put_key(hf_reader *r, const char *key, tf_meta_value value) {
    return tf_meta_add(r->meta, key, strlen(key), &value);
}

static tinfer_status put_arch(hf_reader *r, const char *suffix, tf_meta_value value) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", r->arch->name, suffix);
    return put_key(r, key, value);
}

static tinfer_status put_u32(hf_reader *r, const char *suffix, uint32_t value) {
    return put_arch(r, suffix, (tf_meta_value){.type = TINFER_META_U32, .as.u64 = value});
}

/* Rounded through float, so the value reads the same as from a GGUF file's F32. */
static tinfer_status put_f32(hf_reader *r, const char *suffix, double value) {
    return put_arch(r, suffix, (tf_meta_value){.type = TINFER_META_F32, .as.f64 = (float)value});
}

static tinfer_status string_value(hf_reader *r, const char *text, tf_meta_value *out) {
    size_t len = strlen(text);
    char *copy = tf_meta_strndup(r->meta, text, len);
    if (!copy) return tf_error(TINFER_E_NOMEM, "config.json: out of memory");
    *out = (tf_meta_value){.type = TINFER_META_STRING, .as.str = {copy, len}};
    return TINFER_OK;
}

static tinfer_status put_arch_str(hf_reader *r, const char *suffix, const char *text) {
    tf_meta_value value;
    tinfer_status status = string_value(r, text, &value);
    return status == TINFER_OK ? put_arch(r, suffix, value) : status;
}

/* ---- which architecture ---- */

static const hf_arch *arch_by_model_type(const char *model_type) {
    if (strcmp(model_type, "gemma3_text") == 0) return &HF_ARCHES[HF_GEMMA3];
    for (size_t i = 0; i < sizeof HF_ARCHES / sizeof HF_ARCHES[0]; i++)
        if (strcmp(HF_ARCHES[i].name, model_type) == 0) return &HF_ARCHES[i];
    return NULL;
}

static const hf_arch *arch_by_class(const char *hf_class) {
    if (strcmp(hf_class, "Gemma3ForConditionalGeneration") == 0) return &HF_ARCHES[HF_GEMMA3];
    for (size_t i = 0; i < sizeof HF_ARCHES / sizeof HF_ARCHES[0]; i++)
        if (strcmp(HF_ARCHES[i].hf_class, hf_class) == 0) return &HF_ARCHES[i];
    return NULL;
}

static tinfer_status first_architecture(const json_t *top, const char **out) {
    const json_t *list = field_get(top, "architectures");
    *out = NULL;
    if (!list) return TINFER_OK;
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        !json_is_string(json_array_get(list, 0)))
        return tf_error(TINFER_E_FORMAT,
                        "config.json: field 'architectures' must be a non-empty list of strings");
    *out = json_string_value(json_array_get(list, 0));
    return TINFER_OK;
}

/* model_type first, then architectures[0], as transformers' AutoConfig does. */
static tinfer_status identify_arch(const json_t *top, const hf_arch **out) {
    const json_t *model_type = field_get(top, "model_type");
    if (model_type && !json_is_string(model_type))
        return tf_error(TINFER_E_FORMAT, "config.json: field 'model_type' must be a string");
    const char *hf_class;
    tinfer_status status = first_architecture(top, &hf_class);
    if (status != TINFER_OK) return status;
    *out = model_type ? arch_by_model_type(json_string_value(model_type)) : NULL;
    if (!*out && hf_class) *out = arch_by_class(hf_class);
    if (*out) return TINFER_OK;
    if (model_type)
        return tf_error(TINFER_E_UNSUPPORTED,
                        "config.json: model_type '%s' is not supported (llama, qwen2, qwen3, "
                        "gemma3 are)",
                        json_string_value(model_type));
    if (hf_class)
        return tf_error(TINFER_E_UNSUPPORTED, "config.json: architecture '%s' is not supported",
                        hf_class);
    return tf_error(TINFER_E_FORMAT, "config.json: missing field 'model_type' (and no "
                                     "'architectures')");
}

/* ---- RoPE: transformers 5 moved rope_theta and rope_scaling into "rope_parameters", which for
 * Gemma 3 holds one block per attention kind ({"full_attention": {...}, "sliding_attention": ...}).
 * Older files keep them at the top level; both are read. ---- */

static const json_t *rope_block(const hf_reader *r, const char *attention_kind) {
    const json_t *params = field_get(r->cfg, "rope_parameters");
    if (!json_is_object(params)) return NULL;
    const json_t *nested = field_get(params, attention_kind);
    if (json_is_object(nested)) return nested;
    /* A flat block describes the global layers; local ones then keep their own default. */
    return strcmp(attention_kind, "sliding_attention") == 0 ? NULL : params;
}

static tinfer_status read_rope_theta(const hf_reader *r, const char *field,
                                     const char *attention_kind, double fallback, double *out) {
    bool present;
    tinfer_status status = read_positive(r->cfg, "", field, &present, out);
    if (status != TINFER_OK || present) return status;
    const json_t *block = rope_block(r, attention_kind);
    status = read_positive(block, "rope_parameters.", "rope_theta", &present, out);
    if (status == TINFER_OK && !present) *out = fallback;
    return status;
}

static tinfer_status put_required_factor(hf_reader *r, const json_t *scaling, const char *field,
                                         const char *suffix) {
    bool present;
    double value = 0;
    tinfer_status status = read_positive(scaling, "rope_scaling.", field, &present, &value);
    if (status != TINFER_OK) return status;
    if (!present)
        return tf_error(TINFER_E_FORMAT, "config.json: missing field 'rope_scaling.%s'", field);
    return put_f32(r, suffix, value);
}

static tinfer_status put_original_context(hf_reader *r, const json_t *scaling, bool required) {
    bool present;
    int64_t value = 0;
    tinfer_status status = read_int(scaling, "rope_scaling.", "original_max_position_embeddings", 1,
                                    HF_COUNT_MAX, &present, &value);
    if (status != TINFER_OK) return status;
    if (!present && required)
        return tf_error(
            TINFER_E_FORMAT,
            "config.json: missing field 'rope_scaling.original_max_position_embeddings'");
    return present ? put_u32(r, "rope.scaling.original_context_length", (uint32_t)value)
                   : TINFER_OK;
}

static tinfer_status scaling_type(const json_t *scaling, const char **out) {
    const json_t *type = field_get(scaling, "rope_type");
    if (!type) type = field_get(scaling, "type");
    if (!type) *out = "default";
    else if (json_is_string(type)) *out = json_string_value(type);
    else
        return tf_error(TINFER_E_FORMAT,
                        "config.json: field 'rope_scaling.rope_type' must be a string");
    return TINFER_OK;
}

static tinfer_status put_scaling_kind(hf_reader *r, const json_t *scaling, const char *type) {
    tinfer_status status = put_arch_str(r, "rope.scaling.type", type);
    if (status == TINFER_OK)
        status = put_required_factor(r, scaling, "factor", "rope.scaling.factor");
    if (status != TINFER_OK || strcmp(type, "linear") == 0) return status;
    if (strcmp(type, "yarn") == 0) return put_original_context(r, scaling, false);
    /* llama3: low/high_freq_factor have no GGUF key (llama.cpp bakes them into a rope_freqs
     * tensor at conversion), so these two names are ours. */
    status = put_required_factor(r, scaling, "low_freq_factor", "rope.scaling.low_freq_factor");
    if (status == TINFER_OK)
        status =
            put_required_factor(r, scaling, "high_freq_factor", "rope.scaling.high_freq_factor");
    if (status == TINFER_OK) status = put_original_context(r, scaling, true);
    return status;
}

static tinfer_status put_rope_scaling(hf_reader *r) {
    const json_t *scaling = field_get(r->cfg, "rope_scaling");
    if (!scaling) scaling = rope_block(r, "full_attention");
    if (!scaling) return TINFER_OK;
    if (!json_is_object(scaling))
        return tf_error(TINFER_E_FORMAT, "config.json: field 'rope_scaling' must be an object");
    const char *type = "default";
    tinfer_status status = scaling_type(scaling, &type);
    if (status != TINFER_OK || strcmp(type, "default") == 0) return status;
    if (strcmp(type, "linear") == 0 || strcmp(type, "llama3") == 0 || strcmp(type, "yarn") == 0)
        return put_scaling_kind(r, scaling, type);
    return tf_error(TINFER_E_UNSUPPORTED,
                    "config.json: rope_scaling type '%s' is not supported (linear, llama3 and "
                    "yarn are)",
                    type);
}

/* ---- the hyper-parameters every architecture has ---- */

typedef struct hf_dims {
    uint32_t hidden, layers, ff, heads, kv_heads, head_dim, context;
    double rms_norm_eps, rope_theta;
} hf_dims;

static tinfer_status read_heads(const hf_reader *r, hf_dims *d) {
    tinfer_status status = read_count(r->cfg, "num_attention_heads", r->arch->heads, &d->heads);
    /* Gemma3TextConfig defaults to 4 key/value heads; the others to one per query head. */
    uint32_t kv_fallback = r->arch == &HF_ARCHES[HF_GEMMA3] ? 4 : d->heads;
    if (status == TINFER_OK)
        status = read_count(r->cfg, "num_key_value_heads", kv_fallback, &d->kv_heads);
    if (status != TINFER_OK) return status;
    if (d->kv_heads > d->heads || d->heads % d->kv_heads != 0)
        return tf_error(TINFER_E_FORMAT,
                        "config.json: num_key_value_heads %u does not divide "
                        "num_attention_heads %u",
                        d->kv_heads, d->heads);
    bool present;
    int64_t head_dim = 0;
    status = read_int(r->cfg, "", "head_dim", 1, HF_COUNT_MAX, &present, &head_dim);
    if (status != TINFER_OK) return status;
    if (present || r->arch->head_dim) {
        d->head_dim = present ? (uint32_t)head_dim : r->arch->head_dim;
        return TINFER_OK;
    }
    if (d->hidden % d->heads != 0)
        return tf_error(TINFER_E_FORMAT,
                        "config.json: hidden_size %u is not divisible by num_attention_heads %u "
                        "(and there is no head_dim)",
                        d->hidden, d->heads);
    d->head_dim = d->hidden / d->heads;
    return TINFER_OK;
}

static tinfer_status read_norm_eps(const hf_reader *r, hf_dims *d) {
    bool present;
    tinfer_status status = read_positive(r->cfg, "", "rms_norm_eps", &present, &d->rms_norm_eps);
    if (status != TINFER_OK) return status;
    if (!present) d->rms_norm_eps = r->arch->rms_norm_eps;
    if (d->rms_norm_eps >= 1)
        return tf_error(TINFER_E_FORMAT, "config.json: field 'rms_norm_eps' = %g is not below 1",
                        d->rms_norm_eps);
    return TINFER_OK;
}

static tinfer_status read_dims(hf_reader *r, hf_dims *d) {
    tinfer_status status = read_count(r->cfg, "hidden_size", 0, &d->hidden);
    if (status == TINFER_OK) status = read_count(r->cfg, "num_hidden_layers", 0, &d->layers);
    if (status == TINFER_OK) status = read_count(r->cfg, "intermediate_size", 0, &d->ff);
    if (status == TINFER_OK)
        status = read_count(r->cfg, "vocab_size", r->arch->vocab_size, &r->vocab_size);
    if (status == TINFER_OK)
        status =
            read_count(r->cfg, "max_position_embeddings", r->arch->context_length, &d->context);
    if (status == TINFER_OK) status = read_heads(r, d);
    if (status == TINFER_OK) status = read_norm_eps(r, d);
    if (status == TINFER_OK)
        status =
            read_rope_theta(r, "rope_theta", "full_attention", r->arch->rope_theta, &d->rope_theta);
    return status;
}

static tinfer_status put_dims(hf_reader *r, const hf_dims *d) {
    tf_meta_value arch;
    tinfer_status status = string_value(r, r->arch->name, &arch);
    if (status == TINFER_OK) status = put_key(r, "general.architecture", arch);
    if (status == TINFER_OK) status = put_u32(r, "context_length", d->context);
    if (status == TINFER_OK) status = put_u32(r, "embedding_length", d->hidden);
    if (status == TINFER_OK) status = put_u32(r, "block_count", d->layers);
    if (status == TINFER_OK) status = put_u32(r, "feed_forward_length", d->ff);
    if (status == TINFER_OK) status = put_u32(r, "attention.head_count", d->heads);
    if (status == TINFER_OK) status = put_u32(r, "attention.head_count_kv", d->kv_heads);
    if (status == TINFER_OK) status = put_u32(r, "attention.key_length", d->head_dim);
    if (status == TINFER_OK) status = put_u32(r, "attention.value_length", d->head_dim);
    if (status == TINFER_OK)
        status = put_f32(r, "attention.layer_norm_rms_epsilon", d->rms_norm_eps);
    if (status == TINFER_OK) status = put_f32(r, "rope.freq_base", d->rope_theta);
    if (status == TINFER_OK) status = put_u32(r, "vocab_size", r->vocab_size);
    return status;
}

/* ---- what differs between the architectures ---- */

/* Gemma 3 always alternates local and global layers; Qwen2/3 carry a sliding_window value even
 * when it is off, so it counts only with use_sliding_window = true. */
static tinfer_status put_sliding_window(hf_reader *r) {
    bool is_gemma3 = r->arch == &HF_ARCHES[HF_GEMMA3], present, enabled = is_gemma3;
    tinfer_status status = TINFER_OK;
    if (!is_gemma3) status = read_bool(r->cfg, "use_sliding_window", &present, &enabled);
    if (status != TINFER_OK || !enabled || strcmp(r->arch->name, "llama") == 0) return status;
    int64_t window = 4096; /* Gemma3TextConfig's default */
    status = read_int(r->cfg, "", "sliding_window", 1, HF_COUNT_MAX, &present, &window);
    if (status != TINFER_OK) return status;
    if (!present && !is_gemma3)
        return tf_error(TINFER_E_FORMAT,
                        "config.json: use_sliding_window is true but 'sliding_window' is missing");
    return put_u32(r, "attention.sliding_window", (uint32_t)window);
}

/* Both keys are ours: GGUF files from llama.cpp carry neither (llama.cpp hard-codes Gemma 3's
 * local RoPE base of 10000 and derives the query scale from the model size). */
static tinfer_status put_gemma3_extras(hf_reader *r) {
    double local_base, query_scalar = 256.0; /* Gemma3TextConfig's default */
    bool present;
    tinfer_status status =
        read_rope_theta(r, "rope_local_base_freq", "sliding_attention", 10000.0, &local_base);
    if (status == TINFER_OK) status = put_f32(r, "rope.local_freq_base", local_base);
    if (status == TINFER_OK)
        status = read_positive(r->cfg, "", "query_pre_attn_scalar", &present, &query_scalar);
    if (status == TINFER_OK) status = put_f32(r, "attention.query_pre_attn_scalar", query_scalar);
    return status;
}

static tinfer_status put_softcap(hf_reader *r, const char *field) {
    bool present;
    double cap = 0;
    tinfer_status status = read_positive(r->cfg, "", field, &present, &cap);
    return status == TINFER_OK && present ? put_f32(r, field, cap) : status;
}

/* "<arch>.tie_word_embeddings" is ours: GGUF files say it by leaving out output.weight. */
static tinfer_status put_tie_embeddings(hf_reader *r) {
    bool present, tie = false;
    const json_t *source = field_get(r->cfg, "tie_word_embeddings") ? r->cfg : r->top;
    tinfer_status status = read_bool(source, "tie_word_embeddings", &present, &tie);
    if (status != TINFER_OK) return status;
    return put_arch(r, "tie_word_embeddings",
                    (tf_meta_value){.type = TINFER_META_BOOL,
                                    .as.boolean = present ? tie : r->arch->tie_embeddings});
}

static tinfer_status put_arch_extras(hf_reader *r) {
    tinfer_status status = put_sliding_window(r);
    if (status == TINFER_OK && r->arch == &HF_ARCHES[HF_GEMMA3]) status = put_gemma3_extras(r);
    if (status == TINFER_OK) status = put_softcap(r, "final_logit_softcapping");
    if (status == TINFER_OK) status = put_softcap(r, "attn_logit_softcapping");
    if (status == TINFER_OK) status = put_tie_embeddings(r);
    if (status == TINFER_OK) status = put_rope_scaling(r);
    return status;
}

/* ---- special tokens ---- */

static tinfer_status token_id(const hf_reader *r, const json_t *value, const char *field,
                              size_t index, uint32_t *out) {
    if (!json_is_integer(value) || json_integer_value(value) < 0 ||
        json_integer_value(value) >= (json_int_t)r->vocab_size)
        return tf_error(TINFER_E_FORMAT,
                        "config.json: field '%s' (item %zu) must be a token id below vocab_size "
                        "%u",
                        field, index, r->vocab_size);
    *out = (uint32_t)json_integer_value(value);
    return TINFER_OK;
}

/* Multimodal configs keep the ids at the top level, text-only ones beside the other fields. */
static const json_t *token_field(const hf_reader *r, const char *field) {
    const json_t *value = field_get(r->cfg, field);
    return value ? value : field_get(r->top, field);
}

static tinfer_status put_bos(hf_reader *r) {
    const json_t *value = token_field(r, "bos_token_id");
    uint32_t id = 0;
    if (!value) return TINFER_OK;
    tinfer_status status = token_id(r, value, "bos_token_id", 0, &id);
    if (status != TINFER_OK) return status;
    return put_key(r, "tokenizer.ggml.bos_token_id",
                   (tf_meta_value){.type = TINFER_META_U32, .as.u64 = id});
}

/* eos_token_id may be one id or a list (Llama 3 instruct models stop on any of three). The first
 * is the GGUF key; the whole list goes to "tokenizer.hf.eos_token_ids" (ours), an I32 array. */
static tinfer_status put_eos(hf_reader *r) {
    const json_t *value = token_field(r, "eos_token_id");
    if (!value) return TINFER_OK;
    bool is_list = json_is_array(value);
    size_t n_ids = is_list ? json_array_size(value) : 1;
    if (n_ids == 0) return TINFER_OK;
    size_t n_bytes;
    uint8_t *raw = tinfer_mul_size(n_ids, 4, &n_bytes) ? tf_meta_alloc(r->meta, n_bytes) : NULL;
    if (!raw) return tf_error(TINFER_E_NOMEM, "config.json: out of memory for eos_token_id");
    uint32_t first = 0;
    for (size_t i = 0; i < n_ids; i++) {
        uint32_t id = 0;
        const json_t *item = is_list ? json_array_get(value, i) : value;
        tinfer_status status = token_id(r, item, "eos_token_id", i, &id);
        if (status != TINFER_OK) return status;
        if (i == 0) first = id;
        for (int b = 0; b < 4; b++) raw[i * 4 + (size_t)b] = (uint8_t)(id >> (8 * b));
    }
    tinfer_status status = put_key(r, "tokenizer.ggml.eos_token_id",
                                   (tf_meta_value){.type = TINFER_META_U32, .as.u64 = first});
    tf_meta_value list = {.type = TINFER_META_ARRAY,
                          .as.array = {.elem_type = TINFER_META_I32, .n_elems = n_ids, .raw = raw}};
    return status == TINFER_OK ? put_key(r, "tokenizer.hf.eos_token_ids", list) : status;
}

/* ---- entry point ---- */

static tinfer_status select_text_config(hf_reader *r) {
    if (r->arch != &HF_ARCHES[HF_GEMMA3]) return TINFER_OK;
    const json_t *text_config = field_get(r->top, "text_config");
    if (!text_config) return TINFER_OK;
    if (!json_is_object(text_config))
        return tf_error(TINFER_E_FORMAT, "config.json: field 'text_config' must be an object");
    r->cfg = text_config;
    return TINFER_OK;
}

static tinfer_status read_config(const json_t *top, tf_metadata *meta) {
    hf_reader r = {.cfg = top, .top = top, .meta = meta};
    hf_dims dims;
    tinfer_status status = identify_arch(top, &r.arch);
    if (status == TINFER_OK) status = select_text_config(&r);
    if (status == TINFER_OK) status = read_dims(&r, &dims);
    if (status == TINFER_OK) status = put_dims(&r, &dims);
    if (status == TINFER_OK) status = put_arch_extras(&r);
    if (status == TINFER_OK) status = put_bos(&r);
    if (status == TINFER_OK) status = put_eos(&r);
    return status;
}

tinfer_status tf_hf_config_read(const char *json_text, size_t len, tf_metadata *meta) {
    json_error_t json_error;
    json_t *top = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &json_error);
    if (!top)
        return tf_error(TINFER_E_FORMAT, "config.json: not valid JSON: %s (line %d)",
                        json_error.text, json_error.line);
    tinfer_status status =
        json_is_object(top)
            ? read_config(top, meta)
            : tf_error(TINFER_E_FORMAT, "config.json: top level must be a JSON object");
    json_decref(top);
    return status;
}
