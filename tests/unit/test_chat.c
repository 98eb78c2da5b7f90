/* Chat templates against Jinja: every conversation in tests/data/chat/<name>_cases.json (rendered
 * by tests/conformance/make_chat_reference.py with jinja2 set up as transformers does) must come
 * out of tf_chat_render byte for byte, or fail as Jinja failed; the real template texts must be
 * recognised and near-copies must not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <zstd.h>

#include "chat/chat.h"
#include "chat/chat_text.h"
#include "fixtures/test_env.h"

/* The reference sets, one per template. */
static const char *const CASE_SETS[] = {"gemma3",          "llama3",      "qwen3",
                                        "llama3_instruct", "llama2_chat", "chatml"};
#define N_CASE_SETS (sizeof CASE_SETS / sizeof CASE_SETS[0])

static void chat_data_path(char *path, size_t cap, const char *file_name) {
    char relative[256];
    snprintf(relative, sizeof relative, "tests/data/chat/%s", file_name);
    if (test_source_path(path, cap, relative) == NULL) fail_msg("TINFER_SOURCE_DIR unset");
}

static json_t *load_chat_json(const char *file_name) {
    char path[1024];
    chat_data_path(path, sizeof path, file_name);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (root == NULL) fail_msg("%s: %s (line %d)", path, err.text, err.line);
    return root;
}

/* A whole file into memory (the reference sets are a few KiB). */
static void *read_whole_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(end > 0);
    void *bytes = malloc((size_t)end);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)end, f), (size_t)end);
    fclose(f);
    *size = (size_t)end;
    return bytes;
}

static json_t *load_case_set(const char *name) {
    char file_name[128], path[1024];
    snprintf(file_name, sizeof file_name, "%s_cases.json.zst", name);
    chat_data_path(path, sizeof path, file_name);
    size_t packed_size;
    void *packed = read_whole_file(path, &packed_size);
    unsigned long long size = ZSTD_getFrameContentSize(packed, packed_size);
    assert_true(size != ZSTD_CONTENTSIZE_ERROR && size != ZSTD_CONTENTSIZE_UNKNOWN);
    char *text = malloc((size_t)size);
    assert_non_null(text);
    assert_int_equal(ZSTD_decompress(text, (size_t)size, packed, packed_size), (size_t)size);
    json_error_t err;
    json_t *root = json_loadb(text, (size_t)size, 0, &err);
    if (root == NULL) fail_msg("%s: %s (line %d)", path, err.text, err.line);
    free(text);
    free(packed);
    return root;
}

/* The template text a case set names; the returned root owns it. */
static const char *load_template(json_t *set, json_t **root) {
    *root = load_chat_json(json_string_value(json_object_get(set, "template_file")));
    const char *text = json_string_value(json_object_get(*root, "chat_template"));
    assert_non_null(text);
    return text;
}

static tf_chat_family family_named(const char *name) {
    for (int f = 0; f < TF_CHAT_FAMILY_COUNT; f++)
        if (strcmp(tf_chat_family_name((tf_chat_family)f), name) == 0) return (tf_chat_family)f;
    fail_msg("no family named '%s'", name);
    return TF_CHAT_UNKNOWN;
}

static tinfer_status status_named(const char *name) {
    if (strcmp(name, "E_INVALID_ARG") == 0) return TINFER_E_INVALID_ARG;
    if (strcmp(name, "E_UNSUPPORTED") == 0) return TINFER_E_UNSUPPORTED;
    fail_msg("unexpected status '%s' in the reference", name);
    return TINFER_OK;
}

static const char *opt_string(json_t *obj, const char *key) {
    return json_string_value(json_object_get(obj, key)); /* NULL for null or absent */
}

/* ---- one reference case ---- */

typedef struct case_env {
    tf_chat_family family;
    const char *bos;
    const char *eos;
    char why[512]; /* the first mismatch, for the failure message */
} case_env;

static tf_chat_msg *case_messages(json_t *c, size_t *n) {
    json_t *list = json_object_get(c, "messages");
    *n = json_array_size(list);
    tf_chat_msg *msgs = calloc(*n ? *n : 1, sizeof *msgs);
    assert_non_null(msgs);
    for (size_t i = 0; i < *n; i++) {
        json_t *pair = json_array_get(list, i);
        msgs[i].role = json_string_value(json_array_get(pair, 0));
        msgs[i].content = json_string_value(json_array_get(pair, 1));
    }
    return msgs;
}

/* Measure, render into an exact buffer, and check a buffer one byte short is refused untouched. */
static bool check_rendered(case_env *env, const tf_chat_msg *msgs, size_t n, bool gen,
                           json_t *expected_json) {
    const char *expected = json_string_value(expected_json);
    size_t expected_len = json_string_length(expected_json);
    size_t len = 0;
    tinfer_status st = tf_chat_render(env->family, msgs, n, gen, env->bos, env->eos, NULL, 0, &len);
    if (st != TINFER_E_BUFFER_TOO_SMALL || len != expected_len) {
        snprintf(env->why, sizeof env->why, "measure: status %s, len %zu, expected len %zu (%s)",
                 tinfer_status_str(st), len, expected_len, tinfer_last_error());
        return false;
    }
    char *buf = malloc(expected_len + 1);
    assert_non_null(buf);
    memset(buf, 'X', expected_len + 1);
    st = tf_chat_render(env->family, msgs, n, gen, env->bos, env->eos, buf, expected_len, &len);
    bool untouched = st == TINFER_E_BUFFER_TOO_SMALL;
    for (size_t i = 0; untouched && i < expected_len; i++) untouched = buf[i] == 'X';
    st = tf_chat_render(env->family, msgs, n, gen, env->bos, env->eos, buf, expected_len + 1, &len);
    bool ok = st == TINFER_OK && len == expected_len && memcmp(buf, expected, len) == 0 &&
              buf[len] == '\0' && untouched;
    if (!ok)
        snprintf(env->why, sizeof env->why,
                 "render: status %s, untouched %d\n  expected %.200s\n  got      %.200s",
                 tinfer_status_str(st), untouched, expected, st == TINFER_OK ? buf : "");
    free(buf);
    return ok;
}

static bool check_failure(case_env *env, const tf_chat_msg *msgs, size_t n, bool gen,
                          tinfer_status expected, const char *message) {
    size_t len = 12345;
    char buf[64];
    tinfer_status st =
        tf_chat_render(env->family, msgs, n, gen, env->bos, env->eos, buf, sizeof buf, &len);
    bool ok = st == expected && len == 12345 &&
              (message == NULL || strstr(tinfer_last_error(), message) != NULL);
    if (!ok)
        snprintf(env->why, sizeof env->why, "expected %s '%s', got %s '%s'",
                 tinfer_status_str(expected), message ? message : "", tinfer_status_str(st),
                 tinfer_last_error());
    return ok;
}

static bool check_case(case_env *env, json_t *c) {
    size_t n;
    tf_chat_msg *msgs = case_messages(c, &n);
    bool gen = json_is_true(json_object_get(c, "add_generation_prompt"));
    bool ok;
    if (json_object_get(c, "rendered") != NULL) {
        ok = check_rendered(env, msgs, n, gen, json_object_get(c, "rendered"));
    } else if (json_object_get(c, "refused") != NULL) {
        ok = check_failure(env, msgs, n, gen, status_named(opt_string(c, "refused")), NULL);
    } else {
        /* Jinja's own message comes through: raise_exception's text, or the UndefinedError of
         * reading messages[0] from an empty list. */
        const char *message = opt_string(c, "error");
        assert_non_null(message);
        ok = check_failure(env, msgs, n, gen, TINFER_E_INVALID_ARG, message);
    }
    free(msgs);
    return ok;
}

static void test_reference_renderings(void **state) {
    (void)state;
    size_t total = 0, matched = 0, rendered = 0;
    for (size_t s = 0; s < N_CASE_SETS; s++) {
        json_t *set = load_case_set(CASE_SETS[s]);
        case_env env = {family_named(opt_string(set, "family")), opt_string(set, "bos_token"),
                        opt_string(set, "eos_token"), ""};
        json_t *cases = json_object_get(set, "cases");
        size_t set_matched = 0;
        for (size_t i = 0; i < json_array_size(cases); i++) {
            json_t *c = json_array_get(cases, i);
            rendered += json_object_get(c, "rendered") != NULL;
            if (check_case(&env, c)) set_matched++;
            else print_error("%s / %s: %s\n", CASE_SETS[s], opt_string(c, "name"), env.why);
        }
        print_message("%-16s %zu / %zu cases match\n", CASE_SETS[s], set_matched,
                      json_array_size(cases));
        assert_true(json_array_size(cases) >= 30);
        total += json_array_size(cases);
        matched += set_matched;
        json_decref(set);
    }
    print_message("all templates: %zu / %zu cases match (%zu byte-exact renderings)\n", matched,
                  total, rendered);
    assert_int_equal(matched, total);
}

/* ---- detection ---- */

static void test_detects_real_templates(void **state) {
    (void)state;
    for (size_t s = 0; s < N_CASE_SETS; s++) {
        json_t *set = load_case_set(CASE_SETS[s]), *root;
        const char *text = load_template(set, &root);
        tf_chat_family expected = family_named(opt_string(set, "family"));
        assert_int_not_equal(expected, TF_CHAT_UNKNOWN);
        assert_int_equal(tf_chat_detect(text), expected);

        /* A near-copy is not the template: one byte changed, one added, one removed. */
        size_t len = strlen(text);
        char *copy = malloc(len + 2);
        assert_non_null(copy);
        memcpy(copy, text, len + 1);
        copy[len / 2] ^= 0x20;
        assert_int_equal(tf_chat_detect(copy), TF_CHAT_UNKNOWN);
        memcpy(copy, text, len);
        memcpy(copy + len, "\n", 2);
        assert_int_equal(tf_chat_detect(copy), TF_CHAT_UNKNOWN);
        copy[len - 1] = '\0';
        assert_int_equal(tf_chat_detect(copy), TF_CHAT_UNKNOWN);
        free(copy);
        json_decref(root);
        json_decref(set);
    }
}

static void test_unknown_templates(void **state) {
    (void)state;
    static const char *const OTHERS[] = {
        "",
        "{{ messages }}",
        "<start_of_turn>",
        "<|start_header_id|><|end_header_id|>",
        /* ChatML with Qwen2.5's default system prompt: the marker matches, the output would not. */
        "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + "
        "messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are "
        "Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif "
        "%}",
        "{% for message in messages %}{{ message['content'] }}{% endfor %}",
    };
    assert_int_equal(tf_chat_detect(NULL), TF_CHAT_UNKNOWN);
    for (size_t i = 0; i < sizeof OTHERS / sizeof OTHERS[0]; i++)
        assert_int_equal(tf_chat_detect(OTHERS[i]), TF_CHAT_UNKNOWN);

    tf_chat_msg msg = {"user", "hi"};
    char buf[256];
    size_t len = 0;
    assert_int_equal(
        tf_chat_apply_template(OTHERS[4], &msg, 1, true, "", "", buf, sizeof buf, &len),
        TINFER_E_UNSUPPORTED);
    assert_non_null(strstr(tinfer_last_error(), "not one we can render"));
    assert_int_equal(tf_chat_apply_template(NULL, &msg, 1, true, "", "", buf, sizeof buf, &len),
                     TINFER_E_UNSUPPORTED);
    assert_non_null(strstr(tinfer_last_error(), "no chat template"));
    assert_int_equal(tf_chat_render(TF_CHAT_UNKNOWN, &msg, 1, true, "", "", buf, sizeof buf, &len),
                     TINFER_E_UNSUPPORTED);
    assert_int_equal(
        tf_chat_render(TF_CHAT_FAMILY_COUNT, &msg, 1, true, "", "", buf, sizeof buf, &len),
        TINFER_E_UNSUPPORTED);
    assert_string_equal(tf_chat_family_name((tf_chat_family)99), "unknown");
}

static void test_apply_template_real(void **state) {
    (void)state;
    json_t *set = load_case_set("gemma3"), *root;
    const char *text = load_template(set, &root);
    tf_chat_msg msgs[] = {{"system", "Be terse."}, {"user", " 안녕? "}};
    char buf[256];
    size_t len = 0;
    assert_int_equal(
        tf_chat_apply_template(text, msgs, 2, true, "<bos>", "<eos>", buf, sizeof buf, &len),
        TINFER_OK);
    assert_string_equal(buf, "<bos><start_of_turn>user\nBe terse.\n\n안녕?<end_of_turn>\n"
                             "<start_of_turn>model\n");
    assert_int_equal(len, strlen(buf));
    json_decref(root);
    json_decref(set);
}

/* ---- arguments ---- */

static void test_bad_arguments(void **state) {
    (void)state;
    tf_chat_msg good = {"user", "hi"};
    tf_chat_msg no_role = {NULL, "hi"}, no_content = {"user", NULL};
    char buf[64];
    size_t len = 0;
    assert_int_equal(tf_chat_render(TF_CHAT_CHATML, &good, 1, true, "", "", buf, sizeof buf, NULL),
                     TINFER_E_INVALID_ARG);
    assert_int_equal(tf_chat_render(TF_CHAT_CHATML, &good, 1, true, "", "", NULL, 8, &len),
                     TINFER_E_INVALID_ARG);
    assert_int_equal(tf_chat_render(TF_CHAT_CHATML, NULL, 1, true, "", "", buf, sizeof buf, &len),
                     TINFER_E_INVALID_ARG);
    assert_int_equal(
        tf_chat_render(TF_CHAT_CHATML, &no_role, 1, true, "", "", buf, sizeof buf, &len),
        TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "NULL role"));
    assert_int_equal(
        tf_chat_render(TF_CHAT_QWEN3, &no_content, 1, true, "", "", buf, sizeof buf, &len),
        TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "NULL content"));

    /* NULL special tokens read as unset Jinja variables: empty. */
    assert_int_equal(
        tf_chat_render(TF_CHAT_GEMMA, &good, 1, false, NULL, NULL, buf, sizeof buf, &len),
        TINFER_OK);
    assert_string_equal(buf, "<start_of_turn>user\nhi<end_of_turn>\n");

    /* An empty list is fine where the template never indexes messages[0]. */
    assert_int_equal(
        tf_chat_render(TF_CHAT_LLAMA3, NULL, 0, true, "<b>", "", buf, sizeof buf, &len), TINFER_OK);
    assert_string_equal(buf, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    assert_int_equal(tf_chat_render(TF_CHAT_LLAMA3, NULL, 0, false, "<b>", "", buf, 1, &len),
                     TINFER_OK);
    assert_string_equal(buf, "");
}

/* ---- Python str.strip on bytes Python itself cannot hold ---- */

static void assert_strip(const char *in, const char *out) {
    tf_chat_str s = tf_chat_strip_space(tf_chat_str_of(in));
    assert_int_equal(s.len, strlen(out));
    assert_memory_equal(s.ptr, out, s.len);
}

static void test_strip_invalid_utf8(void **state) {
    (void)state;
    assert_strip(" \xe3\x80\x80x\xc2\xa0", "x");
    assert_strip("\x85x\x85", "\x85x\x85");       /* a lone continuation byte */
    assert_strip("x\xe3\x80", "x\xe3\x80");       /* a truncated U+3000 */
    assert_strip("\xe3\x80 x", "\xe3\x80 x");     /* the same at the start */
    assert_strip("x\xf0\xe3\x80\x80", "x\xf0");   /* U+3000 after a stray lead byte */
    assert_strip("\xed\xa0\x80", "\xed\xa0\x80"); /* an encoded surrogate */
    assert_strip("\xc0\xa0x", "\xc0\xa0x");       /* an overlong space */
    assert_strip("\t\n\v\f\r\x1c\x1d\x1e\x1f", "");
    assert_strip("\xe2\x80\x8b", "\xe2\x80\x8b"); /* U+200B is not whitespace */

    tf_chat_str parts[] = {tf_chat_str_of("  "), tf_chat_str_of(" a "), tf_chat_str_of("\n"),
                           tf_chat_str_of(" b"), tf_chat_str_of(" \n ")};
    char buf[32];
    tf_chat_out out = {buf, sizeof buf, 0, false};
    tf_chat_put_stripped(&out, parts, 5);
    assert_int_equal(out.len, 5);
    assert_memory_equal(buf, "a \n b", 5);
    out.len = 0;
    tf_chat_put_stripped(&out, parts, 1);
    assert_int_equal(out.len, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_renderings), cmocka_unit_test(test_detects_real_templates),
        cmocka_unit_test(test_unknown_templates),    cmocka_unit_test(test_apply_template_real),
        cmocka_unit_test(test_bad_arguments),        cmocka_unit_test(test_strip_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
