/* BPE merging (see bpe.h). */
#include "tokenizer/bpe.h"

#include "core/error.h"
#include "tokenizer/bpe_split.h"
#include "tokenizer/utf8.h"

enum {
    CACHE_SLOTS = 1 << 15, /* entries ≤ half of this */
    CACHE_MAX_KEY = 64,    /* longer pre-tokens are rare and not worth keeping */
    CACHE_KEY_BYTES = 1 << 20,
    CACHE_ID_COUNT = 1 << 18
};

/* ---- the cache: a table that is emptied when full; a busy lock means "no cache this time",
 * so threads sharing a tokenizer never wait on each other ---- */
bool tf_bpe_cache_init(tf_bpe_cache *c) {
    c->mask = CACHE_SLOTS - 1;
    c->hashes = calloc(CACHE_SLOTS, sizeof *c->hashes);
    c->key_off = malloc(CACHE_SLOTS * sizeof *c->key_off);
    c->key_len = malloc(CACHE_SLOTS * sizeof *c->key_len);
    c->ids_off = malloc(CACHE_SLOTS * sizeof *c->ids_off);
    c->ids_len = malloc(CACHE_SLOTS * sizeof *c->ids_len);
    c->keys = malloc(CACHE_KEY_BYTES);
    c->ids = malloc(CACHE_ID_COUNT * sizeof *c->ids);
    c->keys_cap = CACHE_KEY_BYTES;
    c->ids_cap = CACHE_ID_COUNT;
    return c->hashes && c->key_off && c->key_len && c->ids_off && c->ids_len && c->keys && c->ids;
}

void tf_bpe_cache_free(tf_bpe_cache *c) {
    free(c->hashes);
    free(c->key_off);
    free(c->key_len);
    free(c->ids_off);
    free(c->ids_len);
    free(c->keys);
    free(c->ids);
    c->hashes = NULL;
    c->keys = NULL;
    c->ids = NULL;
    c->key_off = c->key_len = c->ids_off = c->ids_len = NULL;
}

static bool cache_get(tf_bpe_cache *c, const char *s, size_t len, uint64_t hash, tf_ids *out,
                      bool *found) {
    *found = false;
    if (!c->hashes || pthread_mutex_trylock(&c->lock) != 0) return true;
    bool ok = true;
    for (size_t slot = hash & c->mask; c->hashes[slot]; slot = (slot + 1) & c->mask) {
        if (c->hashes[slot] != hash || c->key_len[slot] != len ||
            memcmp(c->keys + c->key_off[slot], s, len) != 0)
            continue;
        const int32_t *ids = c->ids + c->ids_off[slot];
        for (uint32_t k = 0; k < c->ids_len[slot] && ok; k++) ok = tf_ids_push(out, ids[k]);
        *found = true;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* Keeps ids->data[first..len) as the result of s[0..len): possibly none, when no character of
 * the word is in the vocabulary and there is no unknown token. */
static void cache_put(tf_bpe_cache *c, const char *s, size_t len, uint64_t hash, const tf_ids *ids,
                      size_t first) {
    size_t n_ids = ids->len - first;
    if (!c->hashes || pthread_mutex_trylock(&c->lock) != 0) return;
    if ((c->n_used + 1) * 2 > c->mask + 1 || c->keys_len + len > c->keys_cap ||
        c->ids_used + n_ids > c->ids_cap) {
        memset(c->hashes, 0, (c->mask + 1) * sizeof *c->hashes);
        c->n_used = c->keys_len = c->ids_used = 0;
    }
    size_t slot = hash & c->mask;
    while (c->hashes[slot]) slot = (slot + 1) & c->mask;
    c->hashes[slot] = hash;
    c->key_off[slot] = (uint32_t)c->keys_len;
    c->key_len[slot] = (uint32_t)len;
    c->ids_off[slot] = (uint32_t)c->ids_used;
    c->ids_len[slot] = (uint32_t)n_ids;
    if (len) memcpy(c->keys + c->keys_len, s, len);
    if (n_ids) memcpy(c->ids + c->ids_used, ids->data + first, n_ids * sizeof *ids->data);
    c->keys_len += len;
    c->ids_used += n_ids;
    c->n_used++;
    pthread_mutex_unlock(&c->lock);
}

/* ---- symbols ---- */
static bool push_symbol(tf_bpe_scratch *sc, int32_t id) {
    if (sc->n_symbols == sc->cap_symbols &&
        !tf_grow((void **)&sc->symbols, &sc->cap_symbols, sc->n_symbols, 1, sizeof *sc->symbols))
        return false;
    int32_t i = (int32_t)sc->n_symbols++;
    sc->symbols[i] = (tf_bpe_symbol){id, i - 1, -1, true};
    if (i > 0) sc->symbols[i - 1].next = i;
    return true;
}

/* Hugging Face's word building: characters found in the vocabulary, else their <0xXX> bytes,
 * else the unknown token (consecutive ones fused when fuse_unk). A pending unknown is written
 * only when a known character or the end arrives — byte-fallback tokens go before it, exactly as
 * in the reference. */
static bool symbols_from_chars(const tinfer_tokenizer *t, const uint8_t *s, size_t len,
                               tf_bpe_scratch *sc) {
    int32_t pending_unk = -1;
    size_t i = 0, bad;
    bool truncated;
    while (i < len) {
        size_t n = tf_utf8_check(s + i, len - i, &bad, &truncated);
        if (n == 0) n = bad; /* not reached: input is sanitized */
        uint64_t id;
        if (tf_u64_map_get(&t->char_ids, tf_utf8_decode(s + i, n), &id)) {
            if (pending_unk >= 0 && !push_symbol(sc, pending_unk)) return false;
            pending_unk = -1;
            if (!push_symbol(sc, (int32_t)id)) return false;
        } else {
            bool all_bytes = t->byte_fallback;
            for (size_t k = 0; k < n && all_bytes; k++) all_bytes = t->byte_ids[s[i + k]] >= 0;
            if (all_bytes) {
                for (size_t k = 0; k < n; k++)
                    if (!push_symbol(sc, t->byte_ids[s[i + k]])) return false;
            } else if (t->unk_id >= 0) {
                if (pending_unk >= 0 && !t->fuse_unk && !push_symbol(sc, pending_unk)) return false;
                pending_unk = t->unk_id;
            }
        }
        i += n;
    }
    return pending_unk < 0 || push_symbol(sc, pending_unk);
}

/* ---- pairs ---- */
static bool pair_lookup(const tinfer_tokenizer *t, tf_bpe_scratch *sc, int32_t left, int32_t right,
                        uint32_t *rank, int32_t *merged) {
    if (!t->merges_from_scores) {
        uint64_t v;
        if (!tf_u64_map_get(&t->merges, (uint64_t)(uint32_t)left << 32 | (uint32_t)right, &v))
            return false;
        *rank = (uint32_t)(v >> 32);
        *merged = (int32_t)(uint32_t)v;
        return true;
    }
    const tf_tok_entry *l = &t->tokens[left], *r = &t->tokens[right];
    sc->join.len = 0;
    if (!tf_bytes_append(&sc->join, t->blob + l->text_off, l->text_len) ||
        !tf_bytes_append(&sc->join, t->blob + r->text_off, r->text_len))
        return false;
    int32_t id = tf_str_map_get(&t->by_text, t->blob, sc->join.data, sc->join.len);
    if (id < 0 || t->score_rank[id] == UINT32_MAX) return false;
    *rank = t->score_rank[id];
    *merged = id;
    return true;
}

static bool merge_less(const tf_bpe_merge *a, const tf_bpe_merge *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static bool heap_push(tf_bpe_scratch *sc, tf_bpe_merge m) {
    if (sc->n_heap == sc->cap_heap &&
        !tf_grow((void **)&sc->heap, &sc->cap_heap, sc->n_heap, 1, sizeof *sc->heap))
        return false;
    size_t i = sc->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!merge_less(&m, &sc->heap[parent])) break;
        sc->heap[i] = sc->heap[parent];
        i = parent;
    }
    sc->heap[i] = m;
    return true;
}

static tf_bpe_merge heap_pop(tf_bpe_scratch *sc) {
    tf_bpe_merge top = sc->heap[0], last = sc->heap[--sc->n_heap];
    size_t i = 0, n = sc->n_heap;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && merge_less(&sc->heap[child + 1], &sc->heap[child])) child++;
        if (!merge_less(&sc->heap[child], &last)) break;
        sc->heap[i] = sc->heap[child];
        i = child;
    }
    if (n) sc->heap[i] = last;
    return top;
}

static bool queue_pair(const tinfer_tokenizer *t, tf_bpe_scratch *sc, int32_t pos) {
    int32_t next = sc->symbols[pos].next;
    uint32_t rank;
    int32_t merged;
    if (next < 0 || !pair_lookup(t, sc, sc->symbols[pos].id, sc->symbols[next].id, &rank, &merged))
        return true;
    return heap_push(sc, (tf_bpe_merge){rank, (uint32_t)pos, merged});
}

static bool merge_all(const tinfer_tokenizer *t, tf_bpe_scratch *sc) {
    sc->n_heap = 0;
    for (size_t i = 0; i + 1 < sc->n_symbols; i++)
        if (!queue_pair(t, sc, (int32_t)i)) return false;
    while (sc->n_heap) {
        tf_bpe_merge top = heap_pop(sc);
        tf_bpe_symbol *sym = &sc->symbols[top.pos];
        if (!sym->alive || sym->next < 0) continue;
        tf_bpe_symbol *right = &sc->symbols[sym->next];
        uint32_t rank;
        int32_t merged;
        /* a stale entry: the pair at pos changed since it was queued */
        if (!pair_lookup(t, sc, sym->id, right->id, &rank, &merged) || merged != top.merged)
            continue;
        sym->id = merged;
        right->alive = false;
        sym->next = right->next;
        if (right->next >= 0) sc->symbols[right->next].prev = (int32_t)top.pos;
        if (sym->prev >= 0 && !queue_pair(t, sc, sym->prev)) return false;
        if (!queue_pair(t, sc, (int32_t)top.pos)) return false;
    }
    return true;
}

static tinfer_status encode_word(const tinfer_tokenizer *t, const char *s, size_t len,
                                 tf_bpe_scratch *sc, tf_ids *out) {
    if (t->ignore_merges) {
        int32_t whole = t->byte_level ? tf_str_map_get(&t->by_piece, t->blob, s, len)
                                      : tf_str_map_get(&t->by_text, t->blob, s, len);
        if (whole >= 0)
            return tf_ids_push(out, whole) ? TINFER_OK
                                           : tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    }
    bool cacheable = len <= CACHE_MAX_KEY, found = false;
    uint64_t hash = cacheable ? tf_hash_bytes(s, len) | 1 : 0;
    if (cacheable && !cache_get((tf_bpe_cache *)&t->cache, s, len, hash, out, &found))
        return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    if (found) return TINFER_OK;

    sc->n_symbols = 0;
    bool ok = true;
    if (t->byte_level) {
        for (size_t i = 0; i < len && ok; i++) ok = push_symbol(sc, t->byte_ids[(uint8_t)s[i]]);
    } else {
        ok = symbols_from_chars(t, (const uint8_t *)s, len, sc);
    }
    if (!ok || !merge_all(t, sc)) return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    size_t first = out->len;
    for (int32_t i = sc->n_symbols ? 0 : -1; i >= 0; i = sc->symbols[i].next)
        if (!tf_ids_push(out, sc->symbols[i].id))
            return tf_error(TINFER_E_NOMEM, "tokenizer: out of memory");
    if (cacheable) cache_put((tf_bpe_cache *)&t->cache, s, len, hash, out, first);
    return TINFER_OK;
}

tinfer_status tf_bpe_encode(const tinfer_tokenizer *t, const char *s, size_t len,
                            tf_bpe_scratch *sc, tf_ids *out) {
    tinfer_status st = TINFER_OK;
    for (size_t start = 0, end; start < len && st == TINFER_OK; start = end) {
        end = tf_bpe_next_cut(t, s, len, start);
        st = encode_word(t, s + start, end - start, sc, out);
    }
    return st;
}

void tf_bpe_scratch_free(tf_bpe_scratch *sc) {
    free(sc->symbols);
    free(sc->heap);
    free(sc->join.data);
    memset(sc, 0, sizeof *sc);
}
