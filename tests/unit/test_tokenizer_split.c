/* Cutting SentencePiece-style pre-tokens before "▁" (lib/tokenizer/bpe_split.h) never changes
 * the ids: random texts built from the pieces most likely to break the proof (runs of spaces, the
 * characters that Gemma glues to "▁", "▁" itself, unknown characters that fall back to bytes,
 * byte-token look-alikes, CJK, emoji, newlines) give the same ids with cutting on as with it off,
 * for gemma3 and llama2 from tokenizer.json and for the Gemma 3 GGUF vocabulary when present. The
 * proof itself is checked too: Gemma's vocabulary must keep "▁▁" and ">▁" whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tokenizer_util.h"
#include "tokenizer/bpe_split.h"
#include "tokenizer/tok_struct.h"

static const char *const PIECES[] = {
    " ",
    "  ",
    "    ",
    "\xE2\x96\x81",
    "\xE2\x96\x81\xE2\x96\x81",
    ">",
    "<",
    "a",
    "the",
    "The",
    "ing",
    "x",
    "1",
    "2024",
    ".",
    ",",
    "!",
    "'",
    "\"",
    "-",
    "_",
    "=",
    "(",
    ")",
    "{",
    "}",
    "\n",
    "\t",
    "\r\n",
    "\xC3\xA9",                         /* é */
    "\xED\x95\x9C\xEA\xB5\xAD",         /* 한국 */
    "\xE4\xB8\xAD\xE6\x96\x87",         /* 中文 */
    "\xF0\x9F\x98\x80",                 /* 😀 */
    "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", /* 👍🏽 */
    "\xF3\xBF\xBF\xBD", /* U+FFFFD, private use: not in the vocabularies → bytes */
    "\xEA\xA5\xA0",     /* U+A960, rare Hangul jamo */
    "<0x41>",
    "<unk>",
    "<b>",
    "</s>",
    "\xE2\x80\x8B", /* zero-width space */
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rng(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static size_t random_text(char *buf, size_t cap) {
    size_t n_pieces = 1 + rng() % 40, len = 0;
    for (size_t i = 0; i < n_pieces; i++) {
        const char *p = PIECES[rng() % (sizeof PIECES / sizeof PIECES[0])];
        size_t plen = strlen(p);
        if (len + plen > cap) break;
        memcpy(buf + len, p, plen);
        len += plen;
    }
    return len;
}

static size_t encode(const tinfer_tokenizer *t, const char *text, size_t len, int32_t *ids,
                     size_t cap) {
    size_t n = 0;
    assert_int_equal(tinfer_tokenize(t, text, len, TINFER_TOKENIZE_DEFAULT, ids, cap, &n),
                     TINFER_OK);
    return n;
}

/* Words the cutter makes in the text as the normalizer hands it over (spaces are "▁" by then). */
static size_t count_words(const tinfer_tokenizer *t, const char *text, size_t len) {
    char norm[4 * 400];
    size_t n = 0, words = 0;
    for (size_t i = 0; i < len && n + 3 <= sizeof norm; i++) {
        if (text[i] == ' ') {
            memcpy(norm + n, "\xE2\x96\x81", 3);
            n += 3;
        } else {
            norm[n++] = text[i];
        }
    }
    for (size_t at = 0; at < n; words++) at = tf_bpe_next_cut(t, norm, n, at);
    return words;
}

/* Two instances, so neither's pre-token cache can serve the other. */
static void check_cutting_changes_nothing(const char *path, const char *label) {
    tinfer_tokenizer *cut = NULL, *whole = NULL;
    assert_int_equal(tinfer_tokenizer_load(path, &cut), TINFER_OK);
    assert_int_equal(tinfer_tokenizer_load(path, &whole), TINFER_OK);
    assert_true(cut->space_cut.on);
    whole->space_cut.on = false;
    enum { N_TEXTS = 4000, TEXT_CAP = 400, ID_CAP = 4 * TEXT_CAP + 8 };
    char text[TEXT_CAP];
    int32_t a[ID_CAP], b[ID_CAP];
    size_t same = 0, n_cut_points = 0;
    for (int i = 0; i < N_TEXTS; i++) {
        size_t len = random_text(text, sizeof text);
        n_cut_points += count_words(cut, text, len);
        size_t na = encode(cut, text, len, a, ID_CAP), nb = encode(whole, text, len, b, ID_CAP);
        if (na == nb && memcmp(a, b, na * sizeof *a) == 0) same++;
        else fprintf(stderr, "%s: cutting changed the ids of '%.*s'\n", label, (int)len, text);
    }
    printf("%s: %zu/%d random texts equal with and without cutting (%zu words)\n", label, same,
           N_TEXTS, n_cut_points);
    assert_int_equal(same, N_TEXTS);
    assert_true(n_cut_points > 2 * N_TEXTS); /* the cutting did happen */
    tinfer_tokenizer_free(cut);
    tinfer_tokenizer_free(whole);
}

static void test_gemma3_json(void **state) {
    (void)state;
    char path[4096];
    tt_data_path(path, sizeof path, "gemma3");
    check_cutting_changes_nothing(path, "gemma3");
}

static void test_llama2_json(void **state) {
    (void)state;
    char path[4096];
    tt_data_path(path, sizeof path, "llama2");
    check_cutting_changes_nothing(path, "llama2");
}

static void test_gemma3_gguf(void **state) {
    (void)state;
    const char *env = getenv("TINFER_DEFAULT_MODEL");
    const char *path = env && *env ? env : "/tmp/models/gemma-3-270m-q4_k_m.gguf";
    if (access(path, R_OK) != 0) skip();
    check_cutting_changes_nothing(path, "gemma3 gguf");
}

/* Where the vocabulary forbids a cut, none is made: Gemma has "▁▁" runs and a ">▁" token. */
static void test_gemma3_glued_pairs_stay_whole(void **state) {
    (void)state;
    tinfer_tokenizer *t = tt_load_tokenizer("gemma3");
    assert_non_null(t);
    const char *s = "a\xE2\x96\x81\xE2\x96\x81"
                    "b>\xE2\x96\x81"
                    "c\xE2\x96\x81"
                    "d";
    size_t len = strlen(s);
    /* cuts: only before the first ▁ of the run (after "a") and before the ▁ after "c" */
    size_t first = tf_bpe_next_cut(t, s, len, 0);
    assert_int_equal(first, 1);
    size_t second = tf_bpe_next_cut(t, s, len, first);
    assert_int_equal(second, 1 + 6 + 1 + 1 + 3 + 1); /* "▁▁b>▁c" stays whole */
    assert_int_equal(tf_bpe_next_cut(t, s, len, second), len);
    tinfer_tokenizer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemma3_json),
        cmocka_unit_test(test_llama2_json),
        cmocka_unit_test(test_gemma3_gguf),
        cmocka_unit_test(test_gemma3_glued_pairs_stay_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
