/* The memory ceiling on hostile input (doc/formats.md, "Limits on hostile input"): a small file
 * whose header claims huge counts or lengths (2^32 tensors, 2^40-byte strings, giant arrays, a
 * vocabulary id of 2^24, deep JSON nesting, …) must be refused with a clean E_FORMAT or
 * E_UNSUPPORTED before anything is sized from the claim, through each loader: GGUF (tf_gguf_read
 * through tinfer_model_load and tinfer_tokenizer_load), safetensors (single file and index),
 * config.json, tokenizer.json (and tokenizer_config.json), and chat template rendering.
 *
 * Each case runs in a fork()ed child:
 *  - its address space is capped (RLIMIT_AS) at 512 MiB above what it had at the fork, so an
 *    allocation sized from a claim fails there — and must not have been tried: E_NOMEM fails the
 *    test as surely as a crash does (a clean error that only came from running out of memory is
 *    the bug, not the fix). ASan builds reserve terabytes of shadow memory, so there the cap is
 *    not set and ASan's own allocator limits and the peak-RSS check below stand in;
 *  - its resident peak (VmHWM) may grow by at most CEILING_RSS_MIB over the fork (64 MiB, 192 under
 *    ASan; the files are bytes to a few MiB, the ceiling a small multiple of that);
 *  - alarm() kills it after CASE_SECONDS, so a loader that spins on a claim fails the test (a
 *    signal, not a timing assertion).
 * The child reports the status and the message through a pipe; the parent checks them. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "fixtures/safetensors_writer.h"
#include "synthetic_model.h" /* the GGUF writer and test_env too */
#include "tinfer/tinfer.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

enum {
    AS_HEADROOM_MIB = 512, /* the address-space cap above the child's size at the fork */
    /* the resident growth a case may cause; ASan's redzones and quarantine (freed blocks are
     * kept, 256 MiB by default) make the same allocations take about three times as much */
    CEILING_RSS_MIB = UNDER_ASAN ? 192 : 64,
    CASE_SECONDS = 30, /* generous: each case takes milliseconds */
    MESSAGE_CAP = 512,
    NO_OTHER = -1,
};

/* Bytes from /proc/self/status ("VmHWM:  1234 kB"), 0 when unreadable. */
static uint64_t status_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    uint64_t kib = 0;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kib = strtoull(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

typedef tinfer_status (*case_fn)(const char *path);

typedef struct case_report {
    int status;
    uint64_t rss_growth_kib;
    char message[MESSAGE_CAP];
} case_report;

static void write_all(int fd, const void *bytes, size_t n) {
    const char *p = bytes;
    while (n > 0) {
        ssize_t got = write(fd, p, n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) _exit(3);
        p += got;
        n -= (size_t)got;
    }
}

static void run_child(case_fn fn, const char *path, int fd) {
    /* /proc/self/clear_refs "5" resets VmHWM to the current RSS, so the growth is this case's */
    FILE *clear = fopen("/proc/self/clear_refs", "w");
    if (clear) {
        fputs("5", clear);
        fclose(clear);
    }
    uint64_t rss_before = status_kib("VmRSS");
    if (!UNDER_ASAN) {
        uint64_t vm_kib = status_kib("VmSize");
        struct rlimit limit;
        limit.rlim_cur = limit.rlim_max = (rlim_t)((vm_kib + AS_HEADROOM_MIB * 1024ull) * 1024);
        if (vm_kib == 0 || setrlimit(RLIMIT_AS, &limit) != 0) _exit(4);
    }
    alarm(CASE_SECONDS);
    case_report report = {0};
    report.status = (int)fn(path);
    uint64_t peak = status_kib("VmHWM");
    report.rss_growth_kib = peak > rss_before ? peak - rss_before : 0;
    snprintf(report.message, sizeof report.message, "%s", tinfer_last_error());
    write_all(fd, &report, sizeof report);
    _exit(0);
}

/* Runs fn(path) in a child under the ceiling and checks it refused with one of the two statuses
 * (want_other, when not NO_OTHER, is a third accepted status: TINFER_OK for a claim that is
 * legitimate but must not size anything) and a message holding needle. */
static void expect_refusal(const char *label, case_fn fn, const char *path, const char *needle,
                           int want_other) {
    int pipe_fd[2];
    assert_int_equal(pipe(pipe_fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipe_fd[0]);
        run_child(fn, path, pipe_fd[1]);
    }
    close(pipe_fd[1]);
    case_report report;
    size_t got = 0;
    while (got < sizeof report) {
        ssize_t n = read(pipe_fd[0], (char *)&report + got, sizeof report - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(pipe_fd[0]);
    int wstatus = 0;
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    if (WIFSIGNALED(wstatus))
        fail_msg("%s: the child died of signal %d (%s)%s", label, WTERMSIG(wstatus),
                 strsignal(WTERMSIG(wstatus)),
                 WTERMSIG(wstatus) == SIGALRM ? ": it ran past the time limit" : "");
    assert_true(WIFEXITED(wstatus));
    if (WEXITSTATUS(wstatus) != 0 || got != sizeof report)
        fail_msg("%s: the child exited with %d before reporting", label, WEXITSTATUS(wstatus));
    print_message("  %-34s %-15s +%5.1f MiB  %s\n", label,
                  tinfer_status_str((tinfer_status)report.status),
                  (double)report.rss_growth_kib / 1024.0, report.message);
    if (report.status == TINFER_E_NOMEM)
        fail_msg("%s: E_NOMEM: an allocation was sized from the claim (%s)", label, report.message);
    if (report.status != TINFER_E_FORMAT && report.status != TINFER_E_UNSUPPORTED &&
        report.status != want_other)
        fail_msg("%s: status %s, expected E_FORMAT or E_UNSUPPORTED (%s)", label,
                 tinfer_status_str((tinfer_status)report.status), report.message);
    if (needle && !strstr(report.message, needle))
        fail_msg("%s: the message '%s' does not mention '%s'", label, report.message, needle);
    if (report.rss_growth_kib > CEILING_RSS_MIB * 1024ull)
        fail_msg("%s: resident memory grew by %.1f MiB (ceiling %d MiB)", label,
                 (double)report.rss_growth_kib / 1024.0, CEILING_RSS_MIB);
}

/* ---- the entry points, as a program calls them ---- */

static tinfer_status load_model(const char *path) {
    tinfer_model *model = NULL;
    tinfer_status status = tinfer_model_load(path, NULL, 0, &model);
    if (status != TINFER_OK) return status;
    /* a model that loads must still refuse to size a context from its lies */
    tinfer_context *ctx = NULL;
    status = tinfer_context_create(model, NULL, 0, &ctx);
    tinfer_context_free(ctx);
    tinfer_model_free(model);
    return status;
}

static tinfer_status load_tokenizer(const char *path) {
    tinfer_tokenizer *tok = NULL;
    tinfer_status status = tinfer_tokenizer_load(path, &tok);
    tinfer_tokenizer_free(tok);
    return status;
}

/* Loads a tokenizer (which must succeed), then renders a conversation with its template. */
static tinfer_status render_chat(const char *path) {
    tinfer_tokenizer *tok = NULL;
    tinfer_status status = tinfer_tokenizer_load(path, &tok);
    if (status != TINFER_OK) return TINFER_E_ABORTED; /* not the case under test */
    const tinfer_chat_msg msgs[] = {{"system", "Be brief."}, {"user", "Hi"}};
    size_t len = 0;
    status = tinfer_chat_apply(tok, msgs, 2, sizeof msgs[0], true, NULL, 0, &len);
    tinfer_tokenizer_free(tok);
    return status;
}

/* ---- files ---- */

static const char *tmp_file(const char *name, const void *bytes, size_t n, char *path, size_t cap) {
    test_tmp_path(path, cap, name);
    assert_int_equal(test_write_file(path, bytes, n), 0);
    return path;
}

static const char *tmp_dir(const char *name, char *path, size_t cap) {
    test_tmp_path(path, cap, name);
    if (mkdir(path, 0755) != 0) assert_int_equal(errno, EEXIST);
    return path;
}

/* dir/name with the given text */
static void dir_file(const char *dir, const char *name, const void *bytes, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(test_write_file(path, bytes, n), 0);
}

static void dir_text(const char *dir, const char *name, const char *text) {
    dir_file(dir, name, text, strlen(text));
}

/* "GGUF", version 3, the two counts, then body; padded with zeros so the file is not trivially
 * short (the claims, not truncation, must be what is refused). */
static const char *raw_gguf(const char *name, uint64_t n_tensors, uint64_t n_kv, const gw_buf *body,
                            char *path, size_t cap) {
    gw_buf buf = {0};
    gw_buf_bytes(&buf, "GGUF", 4);
    gw_buf_u32(&buf, 3);
    gw_buf_u64(&buf, n_tensors);
    gw_buf_u64(&buf, n_kv);
    if (body) gw_buf_bytes(&buf, body->data, body->len);
    gw_buf_zeros(&buf, 256);
    assert_false(buf.failed);
    tmp_file(name, buf.data, buf.len, path, cap);
    gw_buf_free(&buf);
    return path;
}

/* A GGUF key/value header: key, then the value's type. */
static void kv_head(gw_buf *body, const char *key, uint32_t type) {
    gw_buf_str(body, key);
    gw_buf_u32(body, type);
}

enum {
    GGUF_STRING = TINFER_META_STRING,
    GGUF_ARRAY = TINFER_META_ARRAY,
    GGUF_U64 = TINFER_META_U64
};

/* ---- GGUF: counts and lengths in the header ---- */

static void gguf_counts(void **state) {
    (void)state;
    char path[512];
    raw_gguf("ceiling_tensors.gguf", 1ull << 32, 0, NULL, path, sizeof path);
    expect_refusal("gguf tensor_count 2^32", load_model, path, "tensor_count", NO_OTHER);
    expect_refusal("gguf tensor_count 2^32 (tokenizer)", load_tokenizer, path, "tensor_count",
                   NO_OTHER);
    raw_gguf("ceiling_kvs.gguf", 0, 1ull << 40, NULL, path, sizeof path);
    expect_refusal("gguf kv_count 2^40", load_model, path, "kv_count", NO_OTHER);
    raw_gguf("ceiling_both.gguf", UINT64_MAX, UINT64_MAX, NULL, path, sizeof path);
    expect_refusal("gguf counts 2^64-1", load_model, path, "kv_count", NO_OTHER);
}

static void gguf_lengths(void **state) {
    (void)state;
    char path[512];
    gw_buf body = {0};
    kv_head(&body, "general.name", GGUF_STRING);
    gw_buf_u64(&body, 1ull << 40);
    raw_gguf("ceiling_string.gguf", 0, 1, &body, path, sizeof path);
    gw_buf_free(&body);
    expect_refusal("gguf string of 2^40 bytes", load_model, path, "runs past", NO_OTHER);

    gw_buf key = {0};
    gw_buf_u64(&key, 1ull << 40); /* the key's length */
    raw_gguf("ceiling_key.gguf", 0, 1, &key, path, sizeof path);
    gw_buf_free(&key);
    expect_refusal("gguf key of 2^40 bytes", load_model, path, "key length", NO_OTHER);

    gw_buf name = {0};
    gw_buf_u64(&name, UINT64_MAX); /* a tensor name's length */
    raw_gguf("ceiling_name.gguf", 1, 0, &name, path, sizeof path);
    gw_buf_free(&name);
    expect_refusal("gguf tensor name of 2^64-1 bytes", load_model, path, "runs past", NO_OTHER);
}

/* key: an array of elem_type claiming count elements (and holding none) */
static void array_claim(const char *file, const char *key, uint32_t elem_type, uint64_t count,
                        char *path, size_t cap) {
    gw_buf body = {0};
    kv_head(&body, key, GGUF_ARRAY);
    gw_buf_u32(&body, elem_type);
    gw_buf_u64(&body, count);
    raw_gguf(file, 0, 1, &body, path, cap);
    gw_buf_free(&body);
}

static void gguf_arrays(void **state) {
    (void)state;
    char path[512];
    array_claim("ceiling_strs.gguf", "tokenizer.ggml.tokens", GGUF_STRING, 1ull << 31, path,
                sizeof path);
    expect_refusal("gguf 2^31 tokens (model)", load_model, path, "array count", NO_OTHER);
    expect_refusal("gguf 2^31 tokens (tokenizer)", load_tokenizer, path, "array count", NO_OTHER);
    array_claim("ceiling_u64s.gguf", "tokenizer.ggml.scores", GGUF_U64, 1ull << 61, path,
                sizeof path);
    expect_refusal("gguf 2^61 u64 (bytes wrap)", load_model, path, "runs past", NO_OTHER);
    array_claim("ceiling_merges.gguf", "tokenizer.ggml.merges", GGUF_STRING, 1ull << 32, path,
                sizeof path);
    expect_refusal("gguf 2^32 merges", load_tokenizer, path, "array count", NO_OTHER);
    array_claim("ceiling_nested.gguf", "x.nested", GGUF_ARRAY, 1ull << 40, path, sizeof path);
    expect_refusal("gguf 2^40 nested arrays", load_model, path, "array count", NO_OTHER);

    gw_buf body = {0}; /* arrays of one array, 64 deep */
    kv_head(&body, "x.deep", GGUF_ARRAY);
    for (int depth = 0; depth < 64; depth++) {
        gw_buf_u32(&body, GGUF_ARRAY);
        gw_buf_u64(&body, 1);
    }
    raw_gguf("ceiling_deep.gguf", 0, 1, &body, path, sizeof path);
    gw_buf_free(&body);
    expect_refusal("gguf arrays 64 deep", load_model, path, "nested deeper", NO_OTHER);
}

/* One tensor info: name "w", the dims (GGUF order), type F32, offset 0. */
static void tensor_claim(const char *file, uint32_t n_dims, const uint64_t *ne, char *path,
                         size_t cap) {
    gw_buf body = {0};
    gw_buf_str(&body, "w");
    gw_buf_u32(&body, n_dims);
    for (uint32_t j = 0; j < n_dims; j++) gw_buf_u64(&body, ne[j]);
    gw_buf_u32(&body, 0); /* F32 */
    gw_buf_u64(&body, 0);
    raw_gguf(file, 1, 0, &body, path, cap);
    gw_buf_free(&body);
}

static void gguf_tensor_shapes(void **state) {
    (void)state;
    char path[512];
    const uint64_t huge[] = {1ull << 20, 1ull << 20}; /* 4 TiB of F32 */
    tensor_claim("ceiling_shape.gguf", 2, huge, path, sizeof path);
    expect_refusal("gguf tensor of 4 TiB", load_model, path, "cannot fit", NO_OTHER);
    const uint64_t wraps[] = {1ull << 32, 1ull << 31, 1ull << 2}; /* 2^65 elements */
    tensor_claim("ceiling_wrap.gguf", 3, wraps, path, sizeof path);
    expect_refusal("gguf element count 2^65", load_model, path, "overflows", NO_OTHER);
}

/* ---- GGUF: a real tiny model whose hyper-parameters lie ---- */

static synth_spec tiny_llama(void) {
    synth_spec s = synth_gemma3();
    s.arch = "llama";
    s.sliding_window = 0;
    s.n_layer = 1;
    return s;
}

/* The tiny model with one u32 key set to value (after extra keys, when add_llama3_rope). */
static const char *lying_model(const char *file, const char *key, uint32_t value,
                               bool add_llama3_rope, char *path, size_t cap) {
    synth_spec s = tiny_llama();
    gguf_writer *w = synth_build(&s);
    assert_non_null(w);
    if (add_llama3_rope) {
        gw_kv_str(w, "llama.rope.scaling.type", "llama3");
        gw_kv_f32(w, "llama.rope.scaling.factor", 8.0f);
        gw_kv_f32(w, "llama.rope.scaling.low_freq_factor", 1.0f);
        gw_kv_f32(w, "llama.rope.scaling.high_freq_factor", 4.0f);
        gw_kv_u32(w, "llama.rope.scaling.original_context_length", 8192);
    }
    size_t size = 0;
    uint8_t *bytes = gw_build(w, &size);
    assert_non_null(bytes);
    bool patched = false;
    for (size_t i = 0; gw_offset(w, GW_KV_KEY, i) != SIZE_MAX; i++) {
        const size_t at = gw_offset(w, GW_KV_KEY, i);
        if (strncmp((const char *)bytes + at, key, strlen(key)) != 0 ||
            gw_offset(w, GW_KV_VALUE, i) - at != strlen(key) + 4)
            continue;
        gw_patch_u32(bytes, gw_offset(w, GW_KV_VALUE, i), value);
        patched = true;
    }
    assert_true(patched);
    tmp_file(file, bytes, size, path, cap);
    free(bytes);
    gw_free(w);
    return path;
}

static void gguf_model_hparams(void **state) {
    (void)state;
    char path[512];
    static const struct {
        const char *key;
        uint32_t value;
        bool llama3_rope;
        bool may_load; /* in range: the model loads, and the default context is not sized by it */
    } LIES[] = {
        {"llama.block_count", UINT32_MAX, false, false},
        {"llama.context_length", UINT32_MAX, false, false},
        {"llama.context_length", INT32_MAX, false, true},
        {"llama.embedding_length", UINT32_MAX, false, false},
        {"llama.feed_forward_length", UINT32_MAX, false, false},
        {"llama.attention.head_count", UINT32_MAX, false, false},
        {"llama.attention.head_count_kv", UINT32_MAX, false, false},
        {"llama.attention.key_length", 1u << 31, false, false},
        {"llama.attention.key_length", 1u << 31, true, false}, /* RoPE factors sized head_dim / 2 */
        {"llama.attention.value_length", UINT32_MAX, false, false},
    };
    for (size_t i = 0; i < sizeof LIES / sizeof LIES[0]; i++) {
        char label[96];
        snprintf(label, sizeof label, "model %s%s", LIES[i].key + strlen("llama."),
                 LIES[i].llama3_rope ? " (llama3)" : "");
        lying_model("ceiling_hparams.gguf", LIES[i].key, LIES[i].value, LIES[i].llama3_rope, path,
                    sizeof path);
        expect_refusal(label, load_model, path, NULL, LIES[i].may_load ? TINFER_OK : NO_OTHER);
    }
}

/* ---- tokenizer from GGUF metadata: a real vocabulary, then one claim ---- */

static const char *tokenizer_gguf(const char *file, const char *claim_key, uint32_t elem_type,
                                  uint64_t count, char *path, size_t cap) {
    gguf_writer *w = gw_new();
    assert_non_null(w);
    static const char *const TOKENS[] = {"a", "b", "ab", "<s>"};
    gw_kv_str(w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str_array(w, "tokenizer.ggml.tokens", 4, TOKENS);
    gw_buf claim = {0};
    gw_buf_u32(&claim, elem_type);
    gw_buf_u64(&claim, count);
    gw_kv_raw(w, claim_key, strlen(claim_key), GGUF_ARRAY, claim.data, claim.len);
    gw_buf_free(&claim);
    size_t size = 0;
    uint8_t *bytes = gw_build(w, &size);
    assert_non_null(bytes);
    tmp_file(file, bytes, size, path, cap);
    free(bytes);
    gw_free(w);
    return path;
}

static void gguf_tokenizer_arrays(void **state) {
    (void)state;
    char path[512];
    tokenizer_gguf("ceiling_tok_scores.gguf", "tokenizer.ggml.scores", TINFER_META_F32, 1ull << 31,
                   path, sizeof path);
    expect_refusal("tokenizer gguf 2^31 scores", load_tokenizer, path, "runs past", NO_OTHER);
    tokenizer_gguf("ceiling_tok_types.gguf", "tokenizer.ggml.token_type", TINFER_META_I32,
                   1ull << 40, path, sizeof path);
    expect_refusal("tokenizer gguf 2^40 token types", load_tokenizer, path, "runs past", NO_OTHER);
    tokenizer_gguf("ceiling_tok_merges.gguf", "tokenizer.ggml.merges", TINFER_META_STRING,
                   1ull << 32, path, sizeof path);
    expect_refusal("tokenizer gguf 2^32 merges", load_tokenizer, path, "array count", NO_OTHER);
}

/* ---- JSON text ---- */

/* prefix, then unit n times, then suffix: malloc'd, NUL-terminated */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix) {
    const size_t lp = strlen(prefix), lu = strlen(unit), ls = strlen(suffix);
    char *text = malloc(lp + lu * n + ls + 1);
    assert_non_null(text);
    char *at = text;
    memcpy(at, prefix, lp);
    at += lp;
    for (size_t i = 0; i < n; i++, at += lu) memcpy(at, unit, lu);
    memcpy(at, suffix, ls + 1);
    return text;
}

enum { DEEP = 200000 }; /* far past any parser's depth limit */
enum { STEPS = 20000 }; /* pipeline steps (the cap is 256) */

/* ---- safetensors ---- */

static const char *safetensors_file(const char *file, const uint8_t *bytes, size_t size, char *path,
                                    size_t cap) {
    return tmp_file(file, bytes, size, path, cap);
}

static void safetensors_single(void **state) {
    (void)state;
    char path[512];
    size_t size = 0;
    uint8_t *bytes = st_fixture_build_raw("{}", 1ull << 40, 64, &size);
    safetensors_file("ceiling_len.safetensors", bytes, size, path, sizeof path);
    free(bytes);
    expect_refusal("safetensors header of 2^40 bytes", load_model, path, "exceeds", NO_OTHER);

    bytes = st_fixture_build_raw("{}", 99999999, 64, &size);
    safetensors_file("ceiling_len2.safetensors", bytes, size, path, sizeof path);
    free(bytes);
    expect_refusal("safetensors header of ~100 MB", load_model, path, "runs past", NO_OTHER);

    bytes = st_fixture_build_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576],\"data_"
                                    "offsets\":[0,4398046511104]}}",
                                    64, &size);
    safetensors_file("ceiling_shape.safetensors", bytes, size, path, sizeof path);
    free(bytes);
    expect_refusal("safetensors tensor of 4 TiB", load_model, path, "past the end", NO_OTHER);

    bytes = st_fixture_build_header(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}",
        0, &size);
    safetensors_file("ceiling_wrap.safetensors", bytes, size, path, sizeof path);
    free(bytes);
    expect_refusal("safetensors element count 2^68", load_model, path, "overflows", NO_OTHER);

    char *deep = repeat("", "[", DEEP, "");
    bytes = st_fixture_build_header(deep, 0, &size);
    free(deep);
    safetensors_file("ceiling_deep.safetensors", bytes, size, path, sizeof path);
    free(bytes);
    expect_refusal("safetensors JSON 200000 deep", load_model, path, "JSON", NO_OTHER);
}

/* A model directory: config.json and model.safetensors.index.json as given (NULL: none), and a
 * small model.safetensors. */
static const char *model_dir(const char *name, const char *config, const char *index, char *path,
                             size_t cap) {
    tmp_dir(name, path, cap);
    dir_text(path, "config.json",
             config ? config
                    : "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\","
                      "\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                      "\"num_hidden_layers\":1,\"num_key_value_heads\":2,\"vocab_size\":96,"
                      "\"rms_norm_eps\":1e-06,\"max_position_embeddings\":256}");
    char index_path[1024];
    snprintf(index_path, sizeof index_path, "%s/model.safetensors.index.json", path);
    if (index) dir_text(path, "model.safetensors.index.json", index);
    else unlink(index_path);
    const st_fixture_tensor tensor = {
        "model.embed_tokens.weight", "F32", 2, {96, 64}, NULL, 96 * 64 * 4};
    size_t size = 0;
    uint8_t *bytes = st_fixture_build(&tensor, 1, NULL, 0, &size);
    assert_non_null(bytes);
    dir_file(path, "model.safetensors", bytes, size);
    free(bytes);
    return path;
}

static void safetensors_index(void **state) {
    (void)state;
    char path[512];
    /* 100000 distinct shards (~3 MB): refused by the shard limit, memory in proportion */
    size_t n = 100000;
    char *index = malloc(n * 40 + 64);
    assert_non_null(index);
    size_t len = (size_t)sprintf(index, "{\"weight_map\":{");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(index + len, "%s\"t%zu\":\"s%zu.safetensors\"", i ? "," : "", i, i);
    sprintf(index + len, "}}");
    model_dir("ceiling_index_shards", NULL, index, path, sizeof path);
    free(index);
    expect_refusal("index of 100000 shards", load_model, path, "shards", NO_OTHER);

    char *deep = repeat("{\"weight_map\":", "[", DEEP, "");
    model_dir("ceiling_index_deep", NULL, deep, path, sizeof path);
    free(deep);
    expect_refusal("index JSON 200000 deep", load_model, path, "JSON", NO_OTHER);
}

/* ---- config.json ---- */

static void config_json(void **state) {
    (void)state;
    char path[512];
    model_dir("ceiling_config_dims",
              "{\"architectures\":[\"LlamaForCausalLM\"],"
              "\"model_type\":\"llama\",\"hidden_size\":2147483647,"
              "\"intermediate_size\":2147483647,\"num_attention_heads\":2147483647,"
              "\"num_hidden_layers\":2147483647,\"num_key_value_heads\":2147483647,"
              "\"vocab_size\":2147483647,\"head_dim\":2147483647,"
              "\"max_position_embeddings\":1099511627776,\"rms_norm_eps\":1e-06}",
              NULL, path, sizeof path);
    expect_refusal("config.json dims of 2^31", load_model, path, NULL, NO_OTHER);

    model_dir("ceiling_config_rope",
              "{\"architectures\":[\"LlamaForCausalLM\"],"
              "\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":96,"
              "\"num_attention_heads\":4,\"num_hidden_layers\":1,\"num_key_value_heads\":2,"
              "\"vocab_size\":96,\"head_dim\":2147483648,\"rms_norm_eps\":1e-06,"
              "\"rope_scaling\":{\"factor\":32.0,\"high_freq_factor\":4.0,"
              "\"low_freq_factor\":1.0,\"original_max_position_embeddings\":8192,"
              "\"rope_type\":\"llama3\"}}",
              NULL, path, sizeof path);
    expect_refusal("config.json head_dim 2^31 (llama3)", load_model, path, NULL, NO_OTHER);

    char *deep = repeat("{\"model_type\":", "[", DEEP, "");
    model_dir("ceiling_config_deep", deep, NULL, path, sizeof path);
    free(deep);
    expect_refusal("config.json 200000 deep", load_model, path, NULL, NO_OTHER);

    char *eos = repeat("{\"model_type\":\"llama\",\"eos_token_id\":", "[", DEEP, "");
    model_dir("ceiling_config_eos", eos, NULL, path, sizeof path);
    free(eos);
    expect_refusal("config.json eos list 200000 deep", load_model, path, NULL, NO_OTHER);
}

/* ---- tokenizer.json (and tokenizer_config.json) ---- */

/* dir/tokenizer.json (and dir/tokenizer_config.json when config is not NULL); returns the path of
 * tokenizer.json in path. */
static const char *tokenizer_dir(const char *name, const char *json, const char *config, char *path,
                                 size_t cap) {
    char dir[400];
    tmp_dir(name, dir, sizeof dir);
    dir_text(dir, "tokenizer.json", json);
    char config_path[1024];
    snprintf(config_path, sizeof config_path, "%s/tokenizer_config.json", dir);
    if (config) dir_text(dir, "tokenizer_config.json", config);
    else unlink(config_path);
    snprintf(path, cap, "%s/tokenizer.json", dir);
    return path;
}

#define BPE_MODEL(vocab, merges) \
    "{\"model\":{\"type\":\"BPE\",\"vocab\":" vocab ",\"merges\":" merges "}"

static void tokenizer_json(void **state) {
    (void)state;
    char path[512];
    tokenizer_dir("ceiling_tok_id", BPE_MODEL("{\"a\":0,\"b\":16777215}", "[]") "}", NULL, path,
                  sizeof path);
    expect_refusal("tokenizer.json vocab id 2^24-1", load_tokenizer, path, "holes", NO_OTHER);
    tokenizer_dir("ceiling_tok_added",
                  BPE_MODEL("{\"a\":0}", "[]") ",\"added_tokens\":[{\"id\":4000000,"
                                               "\"content\":\"<x>\",\"special\":true}]}",
                  NULL, path, sizeof path);
    expect_refusal("tokenizer.json added id 4000000", load_tokenizer, path, "id", NO_OTHER);
    tokenizer_dir("ceiling_tok_added2",
                  BPE_MODEL("{\"a\":0}", "[]") ",\"added_tokens\":[{\"id\":2147483648,"
                                               "\"content\":\"<x>\",\"special\":true}]}",
                  NULL, path, sizeof path);
    expect_refusal("tokenizer.json added id 2^31", load_tokenizer, path, "id", NO_OTHER);

    char *deep = repeat("{\"model\":", "[", DEEP, "");
    tokenizer_dir("ceiling_tok_deep", deep, NULL, path, sizeof path);
    free(deep);
    expect_refusal("tokenizer.json 200000 deep", load_tokenizer, path, NULL, NO_OTHER);

    /* pipelines of 20000 steps: each step was one realloc (quadratic), a pre-tokenizer step one
     * regex compiled, and every tokenize walked them all */
    static const char *const SEQUENCES[][2] = {
        {",\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":"
         "{\"id\":\"a\"}}],\"special_tokens\":{\"a\":{\"ids\":[",
         "0,"},
        {",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[", "{\"type\":\"NFC\"},"},
        {",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[",
         "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false},"},
        {",\"decoder\":{\"type\":\"Sequence\",\"decoders\":[", "{\"type\":\"Fuse\"},"},
    };
    for (size_t i = 0; i < 4; i++) {
        char *steps = repeat(BPE_MODEL("{\"a\":0}", "[]"), SEQUENCES[i][1], STEPS, "");
        size_t len = strlen(steps);
        char *json = malloc(len + strlen(SEQUENCES[i][0]) + 64);
        assert_non_null(json);
        /* the model object, the sequence's head, the steps (last comma dropped), the ends */
        const size_t model_len = strlen(BPE_MODEL("{\"a\":0}", "[]"));
        sprintf(json, "%.*s%s%.*s]}%s", (int)model_len, steps, SEQUENCES[i][0],
                (int)(len - model_len - 1), steps + model_len, i == 0 ? "}}}" : "}");
        free(steps);
        tokenizer_dir("ceiling_tok_steps", json, NULL, path, sizeof path);
        free(json);
        char label[64];
        snprintf(label, sizeof label, "tokenizer.json %s of 20000 steps",
                 i == 0   ? "post_processor"
                 : i == 1 ? "normalizer"
                 : i == 2 ? "pre_tokenizer"
                          : "decoder");
        expect_refusal(label, load_tokenizer, path, "steps", NO_OTHER);
    }

    char *config = repeat("{\"chat_template\":", "[", DEEP, "");
    tokenizer_dir("ceiling_tok_config_deep", BPE_MODEL("{\"a\":0}", "[]") "}", config, path,
                  sizeof path);
    free(config);
    expect_refusal("tokenizer_config.json 200000 deep", load_tokenizer, path, NULL, NO_OTHER);
}

/* A zstd frame of n_blocks RLE blocks of 128 KiB of spaces: 4 bytes a block, so 32 KiB claim
 * 1 GiB (RFC 8878: frame header without content size, window 128 KiB; block header = last bit,
 * type 1 (RLE), size; then the one byte repeated). */
static uint8_t *zstd_bomb(size_t n_blocks, size_t *size) {
    uint8_t *bytes = malloc(6 + 4 * n_blocks);
    assert_non_null(bytes);
    const uint8_t header[] = {0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x38}; /* magic, descriptor, window */
    memcpy(bytes, header, sizeof header);
    for (size_t i = 0; i < n_blocks; i++) {
        const uint32_t block = (i + 1 == n_blocks ? 1u : 0u) | (1u << 1) | (131072u << 3);
        uint8_t *at = bytes + sizeof header + 4 * i;
        at[0] = (uint8_t)block;
        at[1] = (uint8_t)(block >> 8);
        at[2] = (uint8_t)(block >> 16);
        at[3] = ' ';
    }
    *size = sizeof header + 4 * n_blocks;
    return bytes;
}

static void tokenizer_zstd_bomb(void **state) {
    (void)state;
    char dir[400];
    tmp_dir("ceiling_tok_zst", dir, sizeof dir);
    char plain[512];
    snprintf(plain, sizeof plain, "%s/tokenizer.json", dir);
    unlink(plain);
    size_t size = 0;
    uint8_t *bomb = zstd_bomb(8192, &size); /* 1 GiB of spaces in 32 KiB */
    dir_file(dir, "tokenizer.json.zst", bomb, size);
    free(bomb);
    expect_refusal("tokenizer.json.zst: 32 KiB -> 1 GiB", load_tokenizer, dir,
                   "decompresses to more than", NO_OTHER);
}

/* ---- chat template rendering ---- */

static char *read_source_file(const char *relative) {
    char path[1024];
    test_source_path(path, sizeof path, relative);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    fclose(f);
    return text;
}

static void chat_rendering(void **state) {
    (void)state;
    char path[512];
    enum { BIG = 4 << 20 };
    /* a 4 MiB template no renderer knows */
    char *junk = repeat("{\"chat_template\":\"", "{{ x }}", BIG / 7, "\"}");
    tokenizer_dir("ceiling_chat_junk", BPE_MODEL("{\"a\":0}", "[]") "}", junk, path, sizeof path);
    free(junk);
    expect_refusal("chat: 4 MiB unknown template", render_chat, path, "template", NO_OTHER);

    /* Gemma 3's template with a 4 MiB BOS text: measured, not allocated */
    char *big = repeat("", "x", BIG, "");
    char *vocab = malloc(BIG + 256);
    assert_non_null(vocab);
    sprintf(vocab, BPE_MODEL("{\"%s\":0,\"a\":1,\"<end_of_turn>\":2}", "[]") "}", big);
    char *gemma = read_source_file("tests/data/chat/gemma3_tokenizer_config.json");
    char *end = strrchr(gemma, '}');
    assert_non_null(end);
    *end = '\0'; /* a later duplicate key wins in tokenizer_config.json */
    char *config = malloc(strlen(gemma) + BIG + 256);
    assert_non_null(config);
    sprintf(config, "%s,\"bos_token\":\"%s\"}", gemma, big);
    tokenizer_dir("ceiling_chat_bos", vocab, config, path, sizeof path);
    free(big);
    free(vocab);
    free(gemma);
    free(config);
    expect_refusal("chat: 4 MiB BOS text, cap 0", render_chat, path, "needs",
                   TINFER_E_BUFFER_TOO_SMALL);
}

int main(void) {
    (void)synth_write; /* synthetic_model.h's, unused here */
    if (UNDER_ASAN)
        print_message("ASan build: the address-space cap is off; ASan's limits and the RSS "
                      "ceiling stand in\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gguf_counts),         cmocka_unit_test(gguf_lengths),
        cmocka_unit_test(gguf_arrays),         cmocka_unit_test(gguf_tensor_shapes),
        cmocka_unit_test(gguf_model_hparams),  cmocka_unit_test(gguf_tokenizer_arrays),
        cmocka_unit_test(safetensors_single),  cmocka_unit_test(safetensors_index),
        cmocka_unit_test(config_json),         cmocka_unit_test(tokenizer_json),
        cmocka_unit_test(tokenizer_zstd_bomb), cmocka_unit_test(chat_rendering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
