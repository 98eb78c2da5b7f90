/* tinfer-inspect: print what a model file holds — architecture, hyper-parameters, tokenizer
 * summary, metadata and the tensor table — as text or (--json) as one JSON object.
 * Uses the public API only. Exit status: 0 ok, 1 bad input or output that could not be written
 * (e.g. `> /dev/full`), 2 usage error. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program_util.h"
#include "tinfer/tinfer.h"

static const char *const PROGRAM = "tinfer-inspect";

enum { TEXT_ARRAY_ELEMS = 8, JSON_ARRAY_ELEMS = 16 };

typedef struct options {
    const char *path;
    bool json;
    bool full_arrays;
} options;

static int usage(const char *message) {
    if (message) fprintf(stderr, "tinfer-inspect: %s\n", message);
    fprintf(message ? stderr : stdout,
            "usage: tinfer-inspect [--json] [--full] PATH\n"
            "  PATH    a .gguf file, a .safetensors file, or a Hugging Face model directory\n"
            "  --json  print one JSON object instead of text\n"
            "  --full  print arrays in full (default: first %d elements, %d with --json)\n",
            TEXT_ARRAY_ELEMS, JSON_ARRAY_ELEMS);
    return message ? 2 : -1; /* -1: help was asked for, exit 0 */
}

static int parse_args(int argc, char **argv, options *opt) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) opt->json = true;
        else if (strcmp(argv[i], "--full") == 0) opt->full_arrays = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return usage(NULL);
        else if (argv[i][0] == '-' && argv[i][1] != '\0') return usage("unknown option");
        else if (opt->path) return usage("only one PATH may be given");
        else opt->path = argv[i];
    }
    return opt->path ? 0 : usage("no PATH given");
}

static const char *meta_type_name(tinfer_meta_type type) {
    static const char *const NAMES[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                        "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)type < sizeof NAMES / sizeof NAMES[0] ? NAMES[type] : "?";
}

/* A metadata value or array element as text in a heap buffer sized by a first call. */
static char *meta_text(const tinfer_model *model, size_t i, size_t max_elems, bool elem,
                       uint64_t j) {
    size_t len = 0;
    tinfer_status status = elem ? tinfer_model_meta_array_elem(model, i, j, NULL, 0, &len)
                                : tinfer_model_meta_format(model, i, max_elems, NULL, 0, &len);
    if (status != TINFER_E_BUFFER_TOO_SMALL && status != TINFER_OK) return NULL;
    char *text = malloc(len + 1);
    if (!text) return NULL;
    status = elem ? tinfer_model_meta_array_elem(model, i, j, text, len + 1, &len)
                  : tinfer_model_meta_format(model, i, max_elems, text, len + 1, &len);
    if (status != TINFER_OK) {
        free(text);
        return NULL;
    }
    return text;
}

/* Dims of shape[] to print: n_dims, never past the array (the library keeps n_dims in
 * 1..TINFER_MAX_DIMS; this program does not read past shape[] if one day it does not). */
static uint32_t shape_dims(const tinfer_tensor_info *t) {
    return t->n_dims < TINFER_MAX_DIMS ? t->n_dims : TINFER_MAX_DIMS;
}

static void format_shape(const tinfer_tensor_info *t, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t d = 0; d < shape_dims(t) && used < cap; d++)
        used +=
            (size_t)snprintf(buf + used, cap - used, d ? ", %" PRId64 : "[%" PRId64, t->shape[d]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
}

/* ---- text output ---- */

static void print_info_text(const char *path, const tinfer_model_info *info) {
    printf("file:          %s\n", path);
    if (info->format == TINFER_FORMAT_GGUF) printf("format:        GGUF v%u\n", info->gguf_version);
    else printf("format:        safetensors\n");
    printf("architecture:  %s\n", info->architecture[0] ? info->architecture : "(none)");
    if (info->name[0]) printf("name:          %s\n", info->name);
    printf("hyper-parameters:\n"
           "  n_vocab %u, n_ctx_train %u, n_embd %u, n_layer %u, n_ff %u\n"
           "  n_head %u, n_head_kv %u, head_dim %u, head_dim_v %u, sliding_window %u\n"
           "  rms_norm_eps %g, rope_freq_base %g, rope_freq_base_local %g\n",
           info->n_vocab, info->n_ctx_train, info->n_embd, info->n_layer, info->n_ff, info->n_head,
           info->n_head_kv, info->head_dim, info->head_dim_v, info->sliding_window,
           info->rms_norm_eps, info->rope_freq_base, info->rope_freq_base_local);
}

/* What the tokenizer that came with the model says about itself. */
typedef struct tokenizer_summary {
    const char *kind; /* GGUF tokenizer.ggml.model, "tokenizer.json", or NULL without tokenizer */
    size_t n_tokens;
    int32_t bos_id, eos_id; /* -1 when absent */
} tokenizer_summary;

static tokenizer_summary summarize_tokenizer(const tinfer_model *model) {
    tokenizer_summary summary = {NULL, 0, -1, -1};
    const tinfer_tokenizer *tokenizer = tinfer_model_tokenizer(model);
    if (!tokenizer) return summary;
    const char *gguf_kind = tinfer_model_meta_str(model, "tokenizer.ggml.model");
    summary.kind = gguf_kind ? gguf_kind : "tokenizer.json";
    summary.n_tokens = tinfer_tokenizer_n_vocab(tokenizer);
    if (tinfer_tokenizer_special(tokenizer, TINFER_TOKEN_BOS, &summary.bos_id) != TINFER_OK)
        summary.bos_id = -1;
    if (tinfer_tokenizer_special(tokenizer, TINFER_TOKEN_EOS, &summary.eos_id) != TINFER_OK)
        summary.eos_id = -1;
    return summary;
}

static void print_tokenizer_text(const tinfer_model *model) {
    tokenizer_summary summary = summarize_tokenizer(model);
    if (!summary.kind) {
        printf("tokenizer:     none in this model\n");
        return;
    }
    printf("tokenizer:     %s, %zu tokens, bos %d, eos %d\n", summary.kind, summary.n_tokens,
           summary.bos_id, summary.eos_id);
}

static void print_metadata_text(const tinfer_model *model, size_t max_elems) {
    size_t n = tinfer_model_meta_count(model);
    printf("metadata (%zu entries):\n", n);
    for (size_t i = 0; i < n; i++) {
        tinfer_meta_type type, elem_type;
        uint64_t n_elems;
        tinfer_model_meta_type(model, i, &type, &elem_type, &n_elems);
        char *text = meta_text(model, i, max_elems, false, 0);
        if (type == TINFER_META_ARRAY)
            printf("  %-44s array<%s>[%" PRIu64 "] = %s\n", tinfer_model_meta_key(model, i),
                   meta_type_name(elem_type), n_elems, text ? text : "?");
        else
            printf("  %-44s %-6s = %s\n", tinfer_model_meta_key(model, i), meta_type_name(type),
                   text ? text : "?");
        free(text);
    }
}

static void print_tensors_text(const tinfer_model *model, const tinfer_model_info *info) {
    size_t n = tinfer_model_tensor_count(model);
    printf("tensors (%zu):\n  %-40s %-6s %-22s %12s\n", n, "name", "dtype", "shape", "bytes");
    for (size_t i = 0; i < n; i++) {
        tinfer_tensor_info t;
        tinfer_model_tensor(model, i, &t, sizeof t);
        char shape[128];
        format_shape(&t, shape, sizeof shape);
        printf("  %-40s %-6s %-22s %12" PRIu64 "\n", t.name, tinfer_dtype_name(t.dtype), shape,
               t.n_bytes);
    }
    printf("total: %" PRIu64 " parameters, %" PRIu64 " bytes (%.1f MiB)\n", info->n_params,
           info->weight_bytes, (double)info->weight_bytes / (1024.0 * 1024.0));
}

static void print_text(const char *path, const tinfer_model *model, const tinfer_model_info *info,
                       bool full) {
    print_info_text(path, info);
    print_tokenizer_text(model);
    print_metadata_text(model, full ? SIZE_MAX : TEXT_ARRAY_ELEMS);
    print_tensors_text(model, info);
}

/* ---- JSON output ---- */

/* JSON strings must be UTF-8; file strings are not promised to be, so invalid bytes become U+FFFD.
 */
static json_t *json_text(const char *bytes, size_t len) {
    json_t *value = json_stringn(bytes, len);
    if (value) return value;
    char *clean = malloc(len * 3 + 1);
    if (!clean) return json_null();
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (c < 0x80 && c != 0) clean[out++] = (char)c;
        else if (c >= 0x80) {
            /* keep well-formed sequences as they are */
            int extra = c >= 0xF0 && c < 0xF5 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : -1;
            json_t *probe = extra > 0 && i + (size_t)extra < len
                                ? json_stringn(bytes + i, (size_t)extra + 1)
                                : NULL;
            if (probe) {
                memcpy(clean + out, bytes + i, (size_t)extra + 1);
                out += (size_t)extra + 1;
                i += (size_t)extra;
                json_decref(probe);
            } else {
                memcpy(clean + out, "\xEF\xBF\xBD", 3);
                out += 3;
            }
        } else {
            memcpy(clean + out, "\xEF\xBF\xBD", 3);
            out += 3;
        }
    }
    value = json_stringn(clean, out);
    free(clean);
    return value ? value : json_null();
}

static json_t *json_scalar(const tinfer_model *model, const char *key, tinfer_meta_type type) {
    if (type == TINFER_META_STRING) {
        const char *text = tinfer_model_meta_str(model, key);
        return json_text(text, strlen(text));
    }
    if (type == TINFER_META_BOOL) {
        int64_t v = 0;
        tinfer_model_meta_int(model, key, &v);
        return json_boolean(v);
    }
    if (type == TINFER_META_F32 || type == TINFER_META_F64) {
        double v = 0;
        tinfer_model_meta_float(model, key, &v);
        return json_real(v);
    }
    int64_t v = 0;
    if (tinfer_model_meta_int(model, key, &v) == TINFER_OK) return json_integer(v);
    double big = 0; /* a u64 above INT64_MAX */
    tinfer_model_meta_float(model, key, &big);
    return json_real(big);
}

/* A nested array's text rendering is JSON for numbers and bools; strings inside it are not
 * quoted, so such an element stays text. */
static json_t *json_nested(const char *text) {
    json_t *parsed = json_loads(text, JSON_DECODE_ANY, NULL);
    return parsed ? parsed : json_text(text, strlen(text));
}

static json_t *json_array_elem(const tinfer_model *model, size_t i, uint64_t j,
                               tinfer_meta_type elem_type) {
    char *text = meta_text(model, i, 0, true, j);
    if (!text) return json_null();
    json_t *value;
    if (elem_type == TINFER_META_STRING) value = json_text(text, strlen(text));
    else if (elem_type == TINFER_META_ARRAY) value = json_nested(text);
    else if (elem_type == TINFER_META_BOOL) value = json_boolean(strcmp(text, "true") == 0);
    else if (elem_type == TINFER_META_F32) value = json_real((double)strtof(text, NULL));
    else if (elem_type == TINFER_META_F64) value = json_real(strtod(text, NULL));
    else if (elem_type == TINFER_META_U64 && strtoull(text, NULL, 10) > INT64_MAX)
        value = json_real((double)strtoull(text, NULL, 10)); /* as for u64 scalars */
    else value = json_integer((json_int_t)strtoll(text, NULL, 10));
    free(text);
    return value;
}

static json_t *json_meta_entry(const tinfer_model *model, size_t i, size_t max_elems) {
    const char *key = tinfer_model_meta_key(model, i);
    tinfer_meta_type type, elem_type;
    uint64_t n_elems;
    tinfer_model_meta_type(model, i, &type, &elem_type, &n_elems);
    json_t *entry = json_pack("{s:s, s:s}", "key", key, "type", meta_type_name(type));
    if (type != TINFER_META_ARRAY) {
        json_object_set_new(entry, "value", json_scalar(model, key, type));
        return entry;
    }
    uint64_t shown = n_elems < max_elems ? n_elems : max_elems;
    json_t *values = json_array();
    for (uint64_t j = 0; j < shown; j++)
        json_array_append_new(values, json_array_elem(model, i, j, elem_type));
    json_object_set_new(entry, "value", values);
    json_object_set_new(entry, "elem_type", json_string(meta_type_name(elem_type)));
    json_object_set_new(entry, "n_elems", json_integer((json_int_t)n_elems));
    json_object_set_new(entry, "truncated", json_boolean(shown < n_elems));
    return entry;
}

static json_t *json_hparams(const tinfer_model_info *info) {
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f}", "n_vocab",
                     (json_int_t)info->n_vocab, "n_ctx_train", (json_int_t)info->n_ctx_train,
                     "n_embd", (json_int_t)info->n_embd, "n_layer", (json_int_t)info->n_layer,
                     "n_head", (json_int_t)info->n_head, "n_head_kv", (json_int_t)info->n_head_kv,
                     "head_dim", (json_int_t)info->head_dim, "head_dim_v",
                     (json_int_t)info->head_dim_v, "n_ff", (json_int_t)info->n_ff, "sliding_window",
                     (json_int_t)info->sliding_window, "rms_norm_eps", (double)info->rms_norm_eps,
                     "rope_freq_base", (double)info->rope_freq_base, "rope_freq_base_local",
                     (double)info->rope_freq_base_local);
}

static json_t *json_optional_id(int32_t id) { return id >= 0 ? json_integer(id) : json_null(); }

static json_t *json_tokenizer(const tinfer_model *model) {
    tokenizer_summary summary = summarize_tokenizer(model);
    return json_pack("{s:o, s:I, s:o, s:o}", "model",
                     summary.kind ? json_string(summary.kind) : json_null(), "n_tokens",
                     (json_int_t)summary.n_tokens, "bos_id", json_optional_id(summary.bos_id),
                     "eos_id", json_optional_id(summary.eos_id));
}

static json_t *json_tensor(const tinfer_tensor_info *t) {
    json_t *shape = json_array();
    for (uint32_t d = 0; d < shape_dims(t); d++)
        json_array_append_new(shape, json_integer(t->shape[d]));
    return json_pack("{s:s, s:s, s:o, s:I, s:I, s:I}", "name", t->name, "dtype",
                     tinfer_dtype_name(t->dtype), "shape", shape, "n_elements",
                     (json_int_t)t->n_elements, "n_bytes", (json_int_t)t->n_bytes, "offset",
                     (json_int_t)t->file_offset);
}

static int print_json(const char *path, const tinfer_model *model, const tinfer_model_info *info,
                      bool full) {
    json_t *metadata = json_array(), *tensors = json_array();
    for (size_t i = 0; i < tinfer_model_meta_count(model); i++)
        json_array_append_new(metadata,
                              json_meta_entry(model, i, full ? SIZE_MAX : JSON_ARRAY_ELEMS));
    for (size_t i = 0; i < tinfer_model_tensor_count(model); i++) {
        tinfer_tensor_info t;
        tinfer_model_tensor(model, i, &t, sizeof t);
        json_array_append_new(tensors, json_tensor(&t));
    }
    json_t *root =
        json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I}", "path",
                  json_text(path, strlen(path)), "format",
                  info->format == TINFER_FORMAT_GGUF ? "gguf" : "safetensors", "gguf_version",
                  info->gguf_version ? json_integer(info->gguf_version) : json_null(),
                  "architecture", json_text(info->architecture, strlen(info->architecture)), "name",
                  json_text(info->name, strlen(info->name)), "hparams", json_hparams(info),
                  "tokenizer", json_tokenizer(model), "metadata", metadata, "tensors", tensors,
                  "n_tensors", (json_int_t)info->n_tensors, "n_params", (json_int_t)info->n_params,
                  "total_bytes", (json_int_t)info->weight_bytes);
    if (!root || (json_dumpf(root, stdout, JSON_INDENT(1)) != 0 && !ferror(stdout))) {
        json_decref(root);
        fprintf(stderr, "tinfer-inspect: %s: cannot write JSON\n", path);
        return 1;
    } /* a failed write to stdout is reported once, by close_stdout */
    putchar('\n');
    json_decref(root);
    return 0;
}

int main(int argc, char **argv) {
    options opt = {0};
    int usage_status = parse_args(argc, argv, &opt);
    if (usage_status < 0) return close_stdout(PROGRAM, 0); /* --help */
    if (usage_status != 0) return usage_status;
    tinfer_model *model = NULL;
    tinfer_status status = tinfer_model_load(opt.path, NULL, 0, &model);
    if (status != TINFER_OK) {
        /* library messages about a file usually start with its path already */
        const char *message = tinfer_last_error();
        if (strncmp(message, opt.path, strlen(opt.path)) == 0)
            fprintf(stderr, "tinfer-inspect: %s\n", message);
        else fprintf(stderr, "tinfer-inspect: %s: %s\n", opt.path, message);
        return 1;
    }
    tinfer_model_info info;
    tinfer_model_get_info(model, &info, sizeof info);
    int exit_status = 0;
    if (opt.json) exit_status = print_json(opt.path, model, &info, opt.full_arrays);
    else print_text(opt.path, model, &info, opt.full_arrays);
    tinfer_model_free(model);
    return close_stdout(PROGRAM, exit_status);
}
