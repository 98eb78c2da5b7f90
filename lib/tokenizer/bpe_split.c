/* Safe cuts before "▁" in SentencePiece-style pre-tokens (see bpe_split.h). */
#include "tokenizer/bpe_split.h"

#include <string.h>

#include "core/error.h"
#include "tokenizer/utf8.h"

#define SPACE "\xE2\x96\x81" /* ▁, U+2581 */
enum { SPACE_LEN = 3 };

/* The code point of the character that ends at s[end] (s valid UTF-8, end > 0). */
static uint32_t char_before(const uint8_t *s, size_t end) {
    size_t start = end - 1;
    while (start > 0 && end - start < 4 && (s[start] & 0xC0) == 0x80) start--;
    return tf_utf8_decode(s + start, end - start);
}

/* Every X that precedes a "▁" inside text: into the ASCII bitmap or the map. */
static bool note_glued(tinfer_tokenizer *t, const uint8_t *text, size_t len, uint8_t *ascii_glued) {
    for (size_t i = 1; i + SPACE_LEN <= len; i++) {
        const uint8_t *hit = memchr(text + i, 0xE2, len - i);
        if (!hit || (size_t)(hit - text) + SPACE_LEN > len) break;
        i = (size_t)(hit - text);
        if (memcmp(hit, SPACE, SPACE_LEN) != 0) continue;
        uint32_t x = char_before(text, i);
        if (x < 128) ascii_glued[x / 8] |= (uint8_t)(1u << (x % 8));
        else if (!tf_u64_map_set(&t->space_cut.glued, x, 1)) return false;
    }
    return true;
}

/* Marks what any merge can produce. A merge result is a token, so scanning every token that some
 * merge makes is enough: the JSON merges' results, or every ranked token of a GGUF vocabulary. */
static bool scan_merge_results(tinfer_tokenizer *t, uint8_t *ascii_glued) {
    bool ok = true;
    if (t->merges_from_scores) {
        for (size_t id = 0; id < t->n_vocab && ok; id++) {
            const tf_tok_entry *e = &t->tokens[id];
            if (t->score_rank[id] == UINT32_MAX || e->text_len < 1 + SPACE_LEN) continue;
            ok = note_glued(t, (const uint8_t *)t->blob + e->text_off, e->text_len, ascii_glued);
        }
    } else {
        for (size_t slot = 0; slot <= t->merges.mask && t->merges.slots && ok; slot++) {
            if (t->merges.slots[slot].key == UINT64_MAX) continue;
            const tf_tok_entry *e = &t->tokens[(uint32_t)t->merges.slots[slot].value];
            if (e->text_len < 1 + SPACE_LEN) continue;
            ok = note_glued(t, (const uint8_t *)t->blob + e->text_off, e->text_len, ascii_glued);
        }
    }
    return ok;
}

tinfer_status tf_bpe_split_prepare(tinfer_tokenizer *t) {
    t->space_cut.on = false;
    uint64_t unused;
    if (t->byte_level || t->ignore_merges || !t->char_ids.slots ||
        !tf_u64_map_get(&t->char_ids, 0x2581, &unused))
        return TINFER_OK;
    if (!tf_u64_map_init(&t->space_cut.glued, 1 << 12))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    uint8_t ascii_glued[16] = {0};
    /* the map is sized generously; a vocabulary that fills it just gets no cuts */
    if (!scan_merge_results(t, ascii_glued)) return TINFER_OK;
    for (uint32_t x = 1; x < 128; x++) {
        bool glued = ascii_glued[x / 8] & (1u << (x % 8));
        if (!glued && tf_u64_map_get(&t->char_ids, x, &unused))
            t->space_cut.ascii_ok[x / 8] |= (uint8_t)(1u << (x % 8));
    }
    t->space_cut.on = true;
    return TINFER_OK;
}

void tf_bpe_split_free(tinfer_tokenizer *t) { tf_u64_map_free(&t->space_cut.glued); }

static bool cut_ok(const tinfer_tokenizer *t, const uint8_t *s, size_t at) {
    uint8_t last = s[at - 1];
    if (last < 128) return t->space_cut.ascii_ok[last / 8] & (1u << (last % 8));
    uint32_t x = char_before(s, at);
    uint64_t unused;
    return tf_u64_map_get(&t->char_ids, x, &unused) &&
           !tf_u64_map_get(&t->space_cut.glued, x, &unused);
}

size_t tf_bpe_next_cut(const tinfer_tokenizer *t, const char *s, size_t len, size_t start) {
    if (!t->space_cut.on) return len;
    const uint8_t *u = (const uint8_t *)s;
    for (size_t i = start + 1; i + SPACE_LEN <= len; i++) {
        const uint8_t *hit = memchr(u + i, 0xE2, len - i);
        if (!hit || (size_t)(hit - u) + SPACE_LEN > len) return len;
        i = (size_t)(hit - u);
        if (hit[1] == 0x96 && hit[2] == 0x81 && cut_ok(t, u, i)) return i;
    }
    return len;
}
