/* Loading a tokenizer alone from a path: a tokenizer.json (optionally .zst), a directory holding
 * one, or a GGUF file's tokenizer.ggml.* keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "format/gguf.h"
#include "tokenizer/tokenizer.h"

/* tokenizer.json files run to tens of MB (Gemma 3: 33 MB); anything past this is not one. */
#define MAX_JSON_BYTES ((size_t)1 << 30)
/* A .zst may expand at most this many times (JSON compresses 5-70x: Gemma 3's tokenizer_config.json
 * is 69x), or to ZST_FLOOR_BYTES whatever its size: a 32 KB zstd bomb of RLE blocks would
 * otherwise fill a 1 GiB buffer before the JSON parser saw its first byte. */
#define ZST_MAX_RATIO 256
#define ZST_FLOOR_BYTES ((size_t)16 << 20)

/* The most bytes a src_len-byte .zst may decompress to. */
static size_t zst_limit(size_t src_len) {
    size_t limit = src_len <= MAX_JSON_BYTES / ZST_MAX_RATIO ? src_len * ZST_MAX_RATIO : MAX_JSON_BYTES;
    return limit < ZST_FLOOR_BYTES ? ZST_FLOOR_BYTES : limit;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static tinfer_status unzstd(const char *path, const uint8_t *src, size_t src_len, char **out,
                            size_t *out_len) {
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    const size_t limit = zst_limit(src_len);
    size_t cap = src_len < limit / 4 ? src_len * 4 + 1024 : limit, len = 0;
    char *buf = malloc(cap + 1);
    tinfer_status st = TINFER_OK;
    ZSTD_inBuffer in = {src, src_len, 0};
    while (st == TINFER_OK && dctx && buf) {
        if (len == cap) {
            if (cap >= limit) {
                st = tf_error(TINFER_E_FORMAT,
                              "%s: decompresses to more than %zu bytes (%d times its %zu bytes, at "
                              "least %zu MiB, at most %zu MiB)",
                              path, limit, ZST_MAX_RATIO, src_len, ZST_FLOOR_BYTES >> 20,
                              MAX_JSON_BYTES >> 20);
                break;
            }
            cap = cap <= limit / 2 ? cap * 2 : limit;
            char *grown = realloc(buf, cap + 1);
            if (!grown) {
                st = tf_error(TINFER_E_NOMEM, "%s: out of memory for %zu bytes", path, cap + 1);
                break;
            }
            buf = grown;
        }
        ZSTD_outBuffer o = {buf, cap, len};
        size_t ret = ZSTD_decompressStream(dctx, &o, &in);
        len = o.pos;
        if (ZSTD_isError(ret)) st = tf_error(TINFER_E_FORMAT, "%s: zstd: %s", path, ZSTD_getErrorName(ret));
        else if (ret == 0 && in.pos == in.size) break;
        else if (in.pos == in.size && o.pos < o.size)
            st = tf_error(TINFER_E_FORMAT, "%s: truncated zstd data", path);
    }
    ZSTD_freeDCtx(dctx);
    if (st == TINFER_OK && (!dctx || !buf)) st = tf_error(TINFER_E_NOMEM, "%s: out of memory", path);
    if (st != TINFER_OK) {
        free(buf);
        return st;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return TINFER_OK;
}

/* Reads a JSON file, decompressing it when the name ends in .zst. */
static tinfer_status read_json(const char *path, char **text, size_t *len) {
    if (!ends_with(path, ".zst")) return tf_read_text_file(path, MAX_JSON_BYTES, text, len);
    tf_mapped_file file;
    tinfer_status st = tf_mapped_file_open(path, true, &file);
    if (st != TINFER_OK) return st;
    st = unzstd(path, file.bytes, file.size, text, len);
    tf_mapped_file_close(&file);
    return st;
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* dir/name or dir/name.zst, whichever exists; false when neither. */
static bool find_in_dir(const char *dir, const char *name, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", dir, name);
    if (file_exists(out)) return true;
    snprintf(out, cap, "%s/%s.zst", dir, name);
    return file_exists(out);
}

static tinfer_status load_json_pair(const char *json_path, const char *config_path,
                                    tinfer_tokenizer **out) {
    char *json = NULL, *config = NULL;
    size_t json_len = 0, config_len = 0;
    tinfer_status st = read_json(json_path, &json, &json_len);
    if (st == TINFER_OK && config_path) st = read_json(config_path, &config, &config_len);
    if (st == TINFER_OK) st = tf_tokenizer_from_hf_json(json, json_len, config, config_len, out);
    free(json);
    free(config);
    return st;
}

tinfer_status tf_tokenizer_from_hf_dir(const char *dir, tinfer_tokenizer **out) {
    size_t cap = strlen(dir) + 64;
    char *json_path = malloc(cap), *config_path = malloc(cap);
    tinfer_status st;
    if (!json_path || !config_path) st = tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    else if (!find_in_dir(dir, "tokenizer.json", json_path, cap))
        st = tf_error(TINFER_E_IO, "%s: no tokenizer.json in this directory", dir);
    else
        st = load_json_pair(json_path, find_in_dir(dir, "tokenizer_config.json", config_path, cap)
                                           ? config_path : NULL, out);
    free(json_path);
    free(config_path);
    return st;
}

static tinfer_status load_gguf(const char *path, tinfer_tokenizer **out) {
    tf_mapped_file file;
    tinfer_status st = tf_mapped_file_open(path, true, &file);
    if (st != TINFER_OK) return st;
    tf_metadata meta = {0};
    tf_tensor_table tensors = {0};
    uint32_t version;
    st = tf_gguf_read(file.bytes, file.size, 0, &meta, &tensors, &version);
    if (st == TINFER_OK) st = tf_tokenizer_from_metadata(&meta, out);
    tf_metadata_free(&meta);
    tf_tensor_table_free(&tensors);
    tf_mapped_file_close(&file);
    if (st != TINFER_OK) tf_error_prefix(path);
    return st;
}

static bool has_gguf_magic(const char *path) {
    FILE *f = fopen(path, "rb");
    uint8_t magic[4] = {0};
    if (!f) return false;
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return tf_gguf_has_magic(magic, n);
}

/* A directory, a GGUF file (by its magic), else a tokenizer.json with its sibling config. */
tinfer_status tf_tokenizer_load_path(const char *path, tinfer_tokenizer **out) {
    struct stat sb;
    if (stat(path, &sb) != 0) return tf_error(TINFER_E_IO, "%s: no such file or directory", path);
    if (S_ISDIR(sb.st_mode)) return tf_tokenizer_from_hf_dir(path, out);
    if (has_gguf_magic(path)) return load_gguf(path, out);
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) : 1;
    char *dir = malloc(dir_len + 1), *config = malloc(dir_len + 64);
    if (!dir || !config) {
        free(dir);
        free(config);
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    }
    memcpy(dir, slash ? path : ".", dir_len);
    dir[dir_len] = '\0';
    bool has_config = find_in_dir(dir, "tokenizer_config.json", config, dir_len + 64);
    tinfer_status st = load_json_pair(path, has_config ? config : NULL, out);
    free(dir);
    free(config);
    return st;
}
