/* Added-token matching (see added.h). */
#include "tokenizer/added.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "tokenizer/utf8.h"

bool tf_is_whitespace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

static bool is_word_char(uint32_t cp) {
    if (cp == '_') return true;
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
           (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

static int32_t new_node(tf_added_trie *trie) {
    if (trie->n_nodes == trie->cap_nodes) {
        size_t cap = trie->cap_nodes ? trie->cap_nodes * 2 : 256;
        int32_t *grown = realloc(trie->node_token, cap * sizeof *grown);
        if (!grown) return -1;
        trie->node_token = grown;
        trie->cap_nodes = cap;
    }
    trie->node_token[trie->n_nodes] = -1;
    return (int32_t)trie->n_nodes++;
}

tinfer_status tf_added_trie_build(tinfer_tokenizer *t) {
    tf_added_trie *trie = &t->trie;
    size_t total = 1;
    for (size_t i = 0; i < t->n_added; i++) total += t->tokens[t->added[i].id].text_len;
    if (!tf_u64_map_init(&trie->edges, total) || new_node(trie) != 0)
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory for added tokens");
    for (size_t i = 0; i < t->n_added; i++) {
        const tf_tok_entry *e = &t->tokens[t->added[i].id];
        const uint8_t *s = (const uint8_t *)t->blob + e->text_off;
        uint64_t node = 0, child;
        for (size_t j = 0; j < e->text_len; j++) {
            uint64_t key = node << 8 | s[j];
            if (!tf_u64_map_get(&trie->edges, key, &child)) {
                int32_t made = new_node(trie);
                if (made < 0 || !tf_u64_map_set(&trie->edges, key, (uint64_t)made))
                    return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory for added tokens");
                child = (uint64_t)made;
            }
            node = child;
        }
        trie->node_token[node] = (int32_t)i;
        trie->first_byte[s[0] >> 3] |= (uint8_t)(1u << (s[0] & 7));
    }
    return TINFER_OK;
}

void tf_added_trie_free(tf_added_trie *trie) {
    tf_u64_map_free(&trie->edges);
    free(trie->node_token);
    memset(trie, 0, sizeof *trie);
}

/* The longest added token (of the pass) starting at s[0..n); its index in t->added or -1. */
static int32_t longest_match(const tinfer_tokenizer *t, const uint8_t *s, size_t n,
                             bool normalized_pass, size_t *match_len) {
    const tf_added_trie *trie = &t->trie;
    uint64_t node = 0;
    int32_t best = -1;
    for (size_t j = 0; j < n; j++) {
        if (!tf_u64_map_get(&trie->edges, node << 8 | s[j], &node)) break;
        int32_t k = trie->node_token[node];
        if (k >= 0 && t->added[k].normalized == normalized_pass) {
            best = k;
            *match_len = j + 1;
        }
    }
    return best;
}

static uint32_t char_before(const uint8_t *s, size_t end) {
    size_t i = end;
    while (i > 0 && (s[i - 1] & 0xC0) == 0x80) i--;
    if (i > 0) i--;
    return tf_utf8_decode(s + i, end - i);
}

static size_t char_len_at(const uint8_t *s, size_t n) {
    size_t bad;
    bool truncated;
    size_t len = tf_utf8_check(s, n, &bad, &truncated);
    return len ? len : bad;
}

/* single_word: the match may not touch a word character on either side. */
static bool word_bounded(const uint8_t *s, size_t len, size_t start, size_t stop) {
    if (start > 0 && is_word_char(char_before(s, start))) return false;
    if (stop < len && is_word_char(tf_utf8_decode(s + stop, char_len_at(s + stop, len - stop))))
        return false;
    return true;
}

static size_t strip_left(const uint8_t *s, size_t start, size_t floor) {
    while (start > floor) {
        size_t i = start;
        while (i > floor && (s[i - 1] & 0xC0) == 0x80) i--;
        if (i > floor) i--;
        if (!tf_is_whitespace(tf_utf8_decode(s + i, start - i))) break;
        start = i;
    }
    return start;
}

static size_t strip_right(const uint8_t *s, size_t len, size_t stop) {
    while (stop < len) {
        size_t n = char_len_at(s + stop, len - stop);
        if (!tf_is_whitespace(tf_utf8_decode(s + stop, n))) break;
        stop += n;
    }
    return stop;
}

tinfer_status tf_added_split(const tinfer_tokenizer *t, const char *text, size_t len,
                             bool parse_special, bool normalized_pass, tf_segment_fn fn,
                             void *ctx) {
    const uint8_t *s = (const uint8_t *)text;
    size_t done = 0, i = 0;
    tinfer_status st;
    while (i < len) {
        if (!(t->trie.first_byte[s[i] >> 3] & (1u << (s[i] & 7)))) {
            i++;
            continue;
        }
        size_t match_len = 0;
        int32_t k = longest_match(t, s + i, len - i, normalized_pass, &match_len);
        if (k < 0) {
            i++;
            continue;
        }
        const tf_added_token *a = &t->added[k];
        size_t start = i, stop = i + match_len;
        if ((a->special && !parse_special) || (a->single_word && !word_bounded(s, len, start, stop))) {
            i = stop; /* the match stays text; matching resumes after it, as Hugging Face's does */
            continue;
        }
        if (a->lstrip) start = strip_left(s, start, done);
        if (a->rstrip) stop = strip_right(s, len, stop);
        if (start > done && (st = fn(ctx, text + done, start - done, -1)) != TINFER_OK) return st;
        if ((st = fn(ctx, text + start, stop - start, a->id)) != TINFER_OK) return st;
        done = i = stop;
    }
    if (len > done) return fn(ctx, text + done, len - done, -1);
    return TINFER_OK;
}
