/* safetensors reader and shard index. Validation mirrors the reference implementation
 * (huggingface/safetensors, tensor.rs: read_metadata + Metadata::validate): the header length is
 * bounded, tensors sorted by data_offsets must tile the data section exactly (each begin equals
 * the previous end, end >= begin, the last end is the section's length), and each tensor's byte
 * count equals product(shape) x dtype size, computed with overflow checks. Zero-element tensors
 * and rank-0 (scalar) shapes are valid there, so they are valid here. */
#include "format/safetensors.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"

/* The reference rejects headers above 100 MB (MAX_HEADER_SIZE in tensor.rs). */
enum { ST_HEADER_MAX = 100000000 };

/* A dtype the format defines. `bits` allows the sub-byte float formats newer files may carry;
 * `ours` is the table dtype, or -1 for the dtypes we recognise but cannot compute with. */
typedef struct st_dtype {
    const char *name;
    uint32_t bits;
    int ours;
} st_dtype;

static const st_dtype ST_DTYPES[] = {
    {"F32", 32, TINFER_DTYPE_F32},
    {"F16", 16, TINFER_DTYPE_F16},
    {"BF16", 16, TINFER_DTYPE_BF16},
    {"F64", 64, -1},
    {"I64", 64, -1},
    {"U64", 64, -1},
    {"I32", 32, -1},
    {"U32", 32, -1},
    {"I16", 16, -1},
    {"U16", 16, -1},
    {"I8", 8, -1},
    {"U8", 8, -1},
    {"BOOL", 8, -1},
    {"F8_E5M2", 8, -1},
    {"F8_E4M3", 8, -1},
    {"F8_E8M0", 8, -1},
    {"F6_E2M3", 6, -1},
    {"F6_E3M2", 6, -1},
    {"F4", 4, -1},
    {"C64", 64, -1},
};

/* One header entry, checked field by field, before anything reaches the table. */
typedef struct st_entry {
    const char *name;
    const st_dtype *dtype;
    size_t rank;
    int64_t shape[TINFER_MAX_DIMS]; /* the first TINFER_MAX_DIMS dims; rank may be larger */
    uint64_t n_elements;
    uint64_t n_bytes;
    uint64_t begin, end; /* data_offsets, relative to the data section */
    size_t header_order; /* tie-break, so equal offsets (empty tensors) keep header order */
} st_entry;

typedef struct st_header {
    uint64_t header_len; /* N */
    uint64_t data_len;   /* file size - 8 - N */
    json_t *root;
    const json_t *metadata; /* "__metadata__" object, or NULL */
    st_entry *entries;
    size_t n_entries;
} st_header;

static const st_dtype *find_dtype(const char *name) {
    for (size_t i = 0; i < sizeof ST_DTYPES / sizeof ST_DTYPES[0]; i++)
        if (strcmp(ST_DTYPES[i].name, name) == 0) return &ST_DTYPES[i];
    return NULL;
}

static tinfer_status read_header_length(const uint8_t *bytes, size_t size, uint64_t *out_len) {
    if (size < 8)
        return tf_error(TINFER_E_FORMAT,
                        "safetensors: file is %zu bytes, shorter than the 8-byte header length",
                        size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i]; /* little-endian u64 */
    if (n == 0) return tf_error(TINFER_E_FORMAT, "safetensors: header length is 0");
    if (n > ST_HEADER_MAX)
        return tf_error(TINFER_E_FORMAT,
                        "safetensors: header length %llu exceeds the limit of %d bytes",
                        (unsigned long long)n, ST_HEADER_MAX);
    if (n > (uint64_t)size - 8)
        return tf_error(TINFER_E_FORMAT,
                        "safetensors: header length %llu runs past the end of the %zu-byte file",
                        (unsigned long long)n, size);
    *out_len = n;
    return TINFER_OK;
}

/* A JSON integer >= 0, or an error naming the tensor and the field. */
static tinfer_status get_u64(const json_t *value, const char *tensor, const char *field,
                             size_t index, uint64_t *out) {
    if (!json_is_integer(value) || json_integer_value(value) < 0)
        return tf_error(TINFER_E_FORMAT,
                        "safetensors: tensor '%s': %s[%zu] must be a non-negative integer", tensor,
                        field, index);
    *out = (uint64_t)json_integer_value(value);
    return TINFER_OK;
}

static tinfer_status parse_dtype(const json_t *value, st_entry *entry) {
    if (!json_is_string(value))
        return tf_error(TINFER_E_FORMAT, "safetensors: tensor '%s': dtype must be a string",
                        entry->name);
    entry->dtype = find_dtype(json_string_value(value));
    if (!entry->dtype)
        return tf_error(TINFER_E_FORMAT, "safetensors: tensor '%s': unknown dtype '%s'",
                        entry->name, json_string_value(value));
    return TINFER_OK;
}

/* Shape dims multiply left to right with overflow checks, as the reference's try_fold does. */
static tinfer_status parse_shape(const json_t *value, st_entry *entry) {
    if (!json_is_array(value))
        return tf_error(TINFER_E_FORMAT, "safetensors: tensor '%s': shape must be an array",
                        entry->name);
    entry->rank = json_array_size(value);
    uint64_t n_elements = 1;
    for (size_t i = 0; i < entry->rank; i++) {
        uint64_t dim = 0;
        tinfer_status status = get_u64(json_array_get(value, i), entry->name, "shape", i, &dim);
        if (status != TINFER_OK) return status;
        if (!tinfer_mul_u64(n_elements, dim, &n_elements))
            return tf_error(TINFER_E_FORMAT,
                            "safetensors: tensor '%s': shape element count overflows 64 bits",
                            entry->name);
        if (i < TINFER_MAX_DIMS) entry->shape[i] = (int64_t)dim;
    }
    entry->n_elements = n_elements;
    return TINFER_OK;
}

static tinfer_status parse_offsets(const json_t *value, st_entry *entry) {
    if (!json_is_array(value) || json_array_size(value) != 2)
        return tf_error(TINFER_E_FORMAT,
                        "safetensors: tensor '%s': data_offsets must be an array of 2 integers",
                        entry->name);
    tinfer_status status =
        get_u64(json_array_get(value, 0), entry->name, "data_offsets", 0, &entry->begin);
    if (status != TINFER_OK) return status;
    return get_u64(json_array_get(value, 1), entry->name, "data_offsets", 1, &entry->end);
}

/* Bytes the dtype and shape call for; sub-byte dtypes must fill whole bytes. */
static tinfer_status compute_n_bytes(st_entry *entry) {
    uint64_t n_bits;
    if (!tinfer_mul_u64(entry->n_elements, entry->dtype->bits, &n_bits))
        return tf_error(TINFER_E_FORMAT, "safetensors: tensor '%s': byte size overflows 64 bits",
                        entry->name);
    if (n_bits % 8 != 0)
        return tf_error(TINFER_E_FORMAT,
                        "safetensors: tensor '%s': %llu %s elements do not fill whole bytes",
                        entry->name, (unsigned long long)entry->n_elements, entry->dtype->name);
    entry->n_bytes = n_bits / 8;
    return TINFER_OK;
}

static tinfer_status parse_entry(const char *name, const json_t *value, st_entry *entry) {
    entry->name = name;
    if (name[0] == '\0') return tf_error(TINFER_E_FORMAT, "safetensors: empty tensor name");
    if (!json_is_object(value))
        return tf_error(TINFER_E_FORMAT, "safetensors: tensor '%s': entry must be an object", name);
    const char *field;
    json_t *item;
    json_object_foreach((json_t *)value, field, item) {
        if (strcmp(field, "dtype") != 0 && strcmp(field, "shape") != 0 &&
            strcmp(field, "data_offsets") != 0)
            return tf_error(TINFER_E_FORMAT, "safetensors: tensor '%s': unknown field '%s'", name,
                            field);
    }
    static const char *const REQUIRED[] = {"dtype", "shape", "data_offsets"};
    for (size_t i = 0; i < 3; i++)
        if (!json_object_get(value, REQUIRED[i]))
            return tf_error(TINFER_E_FORMAT, "safetensors: tensor '%s': missing field '%s'", name,
                            REQUIRED[i]);
    tinfer_status status = parse_dtype(json_object_get(value, "dtype"), entry);
    if (status == TINFER_OK) status = parse_shape(json_object_get(value, "shape"), entry);
    if (status == TINFER_OK) status = parse_offsets(json_object_get(value, "data_offsets"), entry);
    if (status == TINFER_OK) status = compute_n_bytes(entry);
    return status;
}

static tinfer_status check_metadata_object(const json_t *metadata) {
    if (!json_is_object(metadata))
        return tf_error(TINFER_E_FORMAT, "safetensors: __metadata__ must be an object of strings");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)metadata, key, value) {
        if (!json_is_string(value))
            return tf_error(TINFER_E_FORMAT,
                            "safetensors: __metadata__ entry '%s' must be a string", key);
    }
    return TINFER_OK;
}

static tinfer_status parse_entries(st_header *header) {
    size_t n_keys = json_object_size(header->root);
    header->entries = calloc(n_keys ? n_keys : 1, sizeof *header->entries);
    if (!header->entries)
        return tf_error(TINFER_E_NOMEM, "safetensors: out of memory for %zu header entries",
                        n_keys);
    const char *key;
    json_t *value;
    json_object_foreach(header->root, key, value) {
        if (strcmp(key, "__metadata__") == 0) {
            tinfer_status status = check_metadata_object(value);
            if (status != TINFER_OK) return status;
            header->metadata = value;
            continue;
        }
        st_entry *entry = &header->entries[header->n_entries];
        tinfer_status status = parse_entry(key, value, entry);
        if (status != TINFER_OK) return status;
        entry->header_order = header->n_entries++;
    }
    return TINFER_OK;
}

static int compare_offsets(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->header_order < y->header_order ? -1 : x->header_order > y->header_order;
}

/* One tensor's offsets against where the previous one ended (entries sorted by offsets). */
static tinfer_status check_span(const st_entry *entry, const st_entry *previous, uint64_t start,
                                uint64_t data_len) {
    if (entry->end < entry->begin)
        return tf_error(
            TINFER_E_FORMAT, "safetensors: tensor '%s': data_offsets end %llu is before begin %llu",
            entry->name, (unsigned long long)entry->end, (unsigned long long)entry->begin);
    if (entry->begin < start)
        return tf_error(TINFER_E_FORMAT,
                        "safetensors: tensor '%s': data_offsets [%llu, %llu) overlap tensor '%s'",
                        entry->name, (unsigned long long)entry->begin,
                        (unsigned long long)entry->end, previous ? previous->name : "?");
    if (entry->begin > start)
        return tf_error(TINFER_E_FORMAT,
                        "safetensors: tensor '%s': data_offsets begin %llu leaves a hole of %llu "
                        "bytes after offset %llu",
                        entry->name, (unsigned long long)entry->begin,
                        (unsigned long long)(entry->begin - start), (unsigned long long)start);
    if (entry->end > data_len)
        return tf_error(TINFER_E_FORMAT,
                        "safetensors: tensor '%s': data_offsets end %llu is past the end of the "
                        "%llu-byte data section",
                        entry->name, (unsigned long long)entry->end, (unsigned long long)data_len);
    if (entry->end - entry->begin != entry->n_bytes)
        return tf_error(TINFER_E_FORMAT,
                        "safetensors: tensor '%s': data_offsets span %llu bytes but shape and "
                        "dtype %s need %llu",
                        entry->name, (unsigned long long)(entry->end - entry->begin),
                        entry->dtype->name, (unsigned long long)entry->n_bytes);
    return TINFER_OK;
}

static tinfer_status check_layout(st_header *header) {
    qsort(header->entries, header->n_entries, sizeof *header->entries, compare_offsets);
    uint64_t start = 0;
    for (size_t i = 0; i < header->n_entries; i++) {
        const st_entry *previous = i ? &header->entries[i - 1] : NULL;
        tinfer_status status = check_span(&header->entries[i], previous, start, header->data_len);
        if (status != TINFER_OK) return status;
        start = header->entries[i].end;
    }
    if (start != header->data_len)
        return tf_error(TINFER_E_FORMAT,
                        "safetensors: tensors cover %llu bytes but the data section holds %llu",
                        (unsigned long long)start, (unsigned long long)header->data_len);
    return TINFER_OK;
}

/* Checked after the layout, so a malformed file is reported as malformed first. */
static tinfer_status check_supported(const st_header *header) {
    for (size_t i = 0; i < header->n_entries; i++) {
        const st_entry *entry = &header->entries[i];
        if (entry->dtype->ours < 0)
            return tf_error(TINFER_E_UNSUPPORTED,
                            "safetensors: tensor '%s': dtype %s is not supported (F32, F16 and "
                            "BF16 are)",
                            entry->name, entry->dtype->name);
        /* Any rank is valid safetensors (the reference has no limit), so a higher one is
         * unsupported rather than malformed; the tensor table holds TINFER_MAX_DIMS dims. */
        if (entry->rank > TINFER_MAX_DIMS)
            return tf_error(TINFER_E_UNSUPPORTED,
                            "safetensors: tensor '%s': rank %zu, at most %d dimensions are "
                            "supported",
                            entry->name, entry->rank, TINFER_MAX_DIMS);
    }
    return TINFER_OK;
}

static tinfer_status parse_header(const uint8_t *bytes, size_t size, st_header *header) {
    tinfer_status status = read_header_length(bytes, size, &header->header_len);
    if (status != TINFER_OK) return status;
    header->data_len = (uint64_t)size - 8 - header->header_len;
    json_error_t json_error;
    header->root = json_loadb((const char *)bytes + 8, (size_t)header->header_len,
                              JSON_REJECT_DUPLICATES, &json_error);
    if (!header->root)
        return tf_error(TINFER_E_FORMAT, "safetensors: header is not valid JSON: %s (byte %d)",
                        json_error.text, json_error.position);
    if (!json_is_object(header->root))
        return tf_error(TINFER_E_FORMAT, "safetensors: header must be a JSON object");
    status = parse_entries(header);
    if (status == TINFER_OK) status = check_layout(header);
    if (status == TINFER_OK) status = check_supported(header);
    return status;
}

/* "safetensors.<name>", on the heap; NULL when out of memory. */
static char *metadata_key(const char *name) {
    size_t len = strlen("safetensors.") + strlen(name) + 1;
    char *key = malloc(len);
    if (key) snprintf(key, len, "safetensors.%s", name);
    return key;
}

/* A second shard repeating an entry with the same value is fine; a different value is not. */
static tinfer_status check_metadata_against(const json_t *metadata, const tf_metadata *meta) {
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)metadata, name, value) {
        char *key = metadata_key(name);
        if (!key) return tf_error(TINFER_E_NOMEM, "safetensors: out of memory for a metadata key");
        const tf_meta_value *existing = tf_meta_get(meta, key);
        free(key);
        if (!existing) continue;
        if (existing->type != TINFER_META_STRING ||
            strcmp(existing->as.str.ptr, json_string_value(value)) != 0)
            return tf_error(TINFER_E_FORMAT,
                            "safetensors: __metadata__ entry '%s' conflicts with an earlier shard",
                            name);
    }
    return TINFER_OK;
}

static tinfer_status add_metadata(const json_t *metadata, tf_metadata *meta) {
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)metadata, name, value) {
        char *key = metadata_key(name);
        if (!key) return tf_error(TINFER_E_NOMEM, "safetensors: out of memory for a metadata key");
        tinfer_status status = TINFER_OK;
        if (!tf_meta_get(meta, key)) {
            size_t len = json_string_length(value);
            char *text = tf_meta_strndup(meta, json_string_value(value), len);
            tf_meta_value entry = {.type = TINFER_META_STRING, .as.str = {text, len}};
            status = text ? tf_meta_add(meta, key, strlen(key), &entry)
                          : tf_error(TINFER_E_NOMEM, "safetensors: out of memory for metadata");
        }
        free(key);
        if (status != TINFER_OK) return status;
    }
    return TINFER_OK;
}

static tf_tensor table_tensor(const st_entry *entry, const uint8_t *bytes, uint64_t header_len,
                              uint32_t file_index) {
    tf_tensor tensor = {.dtype = (tinfer_dtype)entry->dtype->ours,
                        .n_dims = entry->rank ? (uint32_t)entry->rank : 1,
                        .n_elements = entry->n_elements,
                        .n_bytes = entry->n_bytes,
                        .file_offset = 8 + header_len + entry->begin,
                        .file_index = file_index};
    for (size_t i = 0; i < TINFER_MAX_DIMS; i++)
        tensor.shape[i] = i < entry->rank ? entry->shape[i] : 1;
    tensor.data = bytes + tensor.file_offset;
    return tensor;
}

static tinfer_status add_tensors(const st_header *header, const uint8_t *bytes, uint32_t file_index,
                                 tf_tensor_table *tensors) {
    for (size_t i = 0; i < header->n_entries; i++)
        if (tf_tensor_table_find(tensors, header->entries[i].name))
            return tf_error(TINFER_E_FORMAT,
                            "safetensors: tensor '%s' already appears in an earlier shard",
                            header->entries[i].name);
    for (size_t i = 0; i < header->n_entries; i++) {
        const st_entry *entry = &header->entries[i];
        tf_tensor tensor = table_tensor(entry, bytes, header->header_len, file_index);
        tinfer_status status =
            tf_tensor_table_add(tensors, entry->name, strlen(entry->name), &tensor);
        if (status != TINFER_OK) return status;
    }
    return TINFER_OK;
}

tinfer_status tf_safetensors_read(const uint8_t *bytes, size_t size, uint32_t file_index,
                                  tf_metadata *meta, tf_tensor_table *tensors) {
    st_header header = {0};
    tinfer_status status = parse_header(bytes, size, &header);
    if (status == TINFER_OK && header.metadata)
        status = check_metadata_against(header.metadata, meta);
    if (status == TINFER_OK) status = add_tensors(&header, bytes, file_index, tensors);
    if (status == TINFER_OK && header.metadata) status = add_metadata(header.metadata, meta);
    free(header.entries);
    json_decref(header.root);
    return status;
}

/* ---- model.safetensors.index.json ---- */

static tinfer_status check_shard_name(const char *tensor, const char *file) {
    if (file[0] == '\0' || strcmp(file, ".") == 0 || strcmp(file, "..") == 0 || strchr(file, '/') ||
        strchr(file, '\\'))
        return tf_error(TINFER_E_FORMAT,
                        "safetensors index: tensor '%s' maps to '%s', which is not a plain file "
                        "name",
                        tensor, file);
    return TINFER_OK;
}

/* Adds file to the list unless it is there already; seen indexes the list's own copies, so
 * sharded models with thousands of shards stay linear. */
static tinfer_status add_distinct(tf_name_index *seen, char **files, size_t *n_files,
                                  const char *file) {
    size_t position;
    if (tf_name_index_get(seen, file, &position)) return TINFER_OK;
    char *copy = strdup(file);
    bool duplicate;
    if (!copy) return tf_error(TINFER_E_NOMEM, "safetensors index: out of memory for a file name");
    files[(*n_files)++] = copy;
    if (!tf_name_index_put(seen, copy, *n_files - 1, &duplicate))
        return tf_error(TINFER_E_NOMEM, "safetensors index: out of memory for the file index");
    return TINFER_OK;
}

static tinfer_status collect_files(const json_t *weight_map, char **files, size_t *n_files) {
    tf_name_index seen = {0};
    tinfer_status status = TINFER_OK;
    const char *tensor;
    json_t *value;
    json_object_foreach((json_t *)weight_map, tensor, value) {
        if (!json_is_string(value)) {
            status = tf_error(TINFER_E_FORMAT,
                              "safetensors index: weight_map entry '%s' must be a string", tensor);
            break;
        }
        status = check_shard_name(tensor, json_string_value(value));
        if (status == TINFER_OK)
            status = add_distinct(&seen, files, n_files, json_string_value(value));
        if (status != TINFER_OK) break;
    }
    tf_name_index_free(&seen);
    return status;
}

static tinfer_status find_weight_map(const json_t *root, const json_t **out_map) {
    if (!json_is_object(root))
        return tf_error(TINFER_E_FORMAT, "safetensors index: top level must be a JSON object");
    const json_t *metadata = json_object_get(root, "metadata");
    if (metadata && !json_is_object(metadata) && !json_is_null(metadata))
        return tf_error(TINFER_E_FORMAT, "safetensors index: 'metadata' must be an object");
    const json_t *weight_map = json_object_get(root, "weight_map");
    if (!weight_map)
        return tf_error(TINFER_E_FORMAT, "safetensors index: missing field 'weight_map'");
    if (!json_is_object(weight_map))
        return tf_error(TINFER_E_FORMAT, "safetensors index: 'weight_map' must be an object");
    if (json_object_size(weight_map) == 0)
        return tf_error(TINFER_E_FORMAT, "safetensors index: 'weight_map' is empty");
    *out_map = weight_map;
    return TINFER_OK;
}

tinfer_status tf_safetensors_index_read(const char *json_text, size_t len, char ***out_files,
                                        size_t *out_n_files) {
    json_error_t json_error;
    json_t *root = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &json_error);
    if (!root)
        return tf_error(TINFER_E_FORMAT, "safetensors index: not valid JSON: %s (line %d)",
                        json_error.text, json_error.line);
    const json_t *weight_map = NULL;
    tinfer_status status = find_weight_map(root, &weight_map);
    char **files = NULL;
    size_t n_files = 0;
    if (status == TINFER_OK) {
        files = calloc(json_object_size(weight_map), sizeof *files);
        if (!files) status = tf_error(TINFER_E_NOMEM, "safetensors index: out of memory");
    }
    if (status == TINFER_OK) status = collect_files(weight_map, files, &n_files);
    json_decref(root);
    if (status != TINFER_OK) {
        tf_safetensors_index_free(files, n_files);
        return status;
    }
    *out_files = files;
    *out_n_files = n_files;
    return TINFER_OK;
}

void tf_safetensors_index_free(char **files, size_t n_files) {
    if (!files) return;
    for (size_t i = 0; i < n_files; i++) free(files[i]);
    free(files);
}
