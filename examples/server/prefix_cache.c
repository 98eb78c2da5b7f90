/* Prefix cache entries, their hashes and least-recently-used eviction: see prefix_cache.h. */
#include "prefix_cache.h"

#include <stdlib.h>
#include <string.h>

#include "metrics.h"

typedef struct entry {
    int32_t seq;
    bool held;
    uint64_t last_used;
    size_t n_tokens, n_exact;
    int32_t *tokens;  /* n_ctx */
    uint64_t *hashes; /* n_ctx / 32 */
} entry;

struct prefix_cache {
    entry *entries;
    size_t n_entries, n_held;
    uint64_t clock;
};

void prefix_hash(const int32_t *tokens, size_t n, uint64_t *hashes) {
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a over each token's 4 bytes, never restarted */
    for (size_t i = 0; i + PREFIX_BLOCK_TOKENS <= n; i += PREFIX_BLOCK_TOKENS) {
        for (size_t k = i; k < i + PREFIX_BLOCK_TOKENS; k++) {
            const uint32_t t = (uint32_t)tokens[k];
            for (int byte = 0; byte < 4; byte++) {
                h ^= (t >> (8 * byte)) & 0xffu;
                h *= 0x100000001b3u;
            }
        }
        hashes[i / PREFIX_BLOCK_TOKENS] = h;
    }
}

size_t prefix_shared(const int32_t *a, const uint64_t *a_hashes, size_t n_a, const int32_t *b,
                     const uint64_t *b_hashes, size_t n_b) {
    const size_t n_blocks = (n_a < n_b ? n_a : n_b) / PREFIX_BLOCK_TOKENS;
    size_t i = 0;
    while (i < n_blocks && a_hashes[i] == b_hashes[i]) i++;
    /* a 64-bit collision is unlikely, not impossible: the tokens decide */
    while (i > 0 && memcmp(a, b, i * PREFIX_BLOCK_TOKENS * sizeof *a) != 0) i--;
    return i * PREFIX_BLOCK_TOKENS;
}

prefix_cache *prefix_cache_create(int32_t first_seq, size_t n_entries, size_t n_ctx) {
    prefix_cache *pc = calloc(1, sizeof *pc);
    if (!pc) return NULL;
    pc->n_entries = n_entries;
    pc->entries = calloc(n_entries ? n_entries : 1, sizeof *pc->entries);
    bool ok = pc->entries != NULL;
    for (size_t i = 0; ok && i < n_entries; i++) {
        entry *e = &pc->entries[i];
        e->seq = first_seq + (int32_t)i;
        e->tokens = malloc(n_ctx * sizeof *e->tokens);
        e->hashes = malloc((n_ctx / PREFIX_BLOCK_TOKENS + 1) * sizeof *e->hashes);
        ok = e->tokens && e->hashes;
    }
    if (!ok) {
        prefix_cache_free(pc);
        return NULL;
    }
    return pc;
}

void prefix_cache_free(prefix_cache *pc) {
    if (!pc) return;
    for (size_t i = 0; pc->entries && i < pc->n_entries; i++) {
        free(pc->entries[i].tokens);
        free(pc->entries[i].hashes);
    }
    free(pc->entries);
    free(pc);
}

static entry *least_recent(prefix_cache *pc) {
    entry *lru = NULL;
    for (size_t i = 0; i < pc->n_entries; i++) {
        entry *e = &pc->entries[i];
        if (e->held && (!lru || e->last_used < lru->last_used)) lru = e;
    }
    return lru;
}

static void drop(prefix_cache *pc, tinfer_context *ctx, entry *e) {
    tinfer_kv_seq_clear(ctx, e->seq);
    e->held = false;
    e->n_tokens = 0;
    pc->n_held--;
}

bool prefix_cache_evict(prefix_cache *pc, tinfer_context *ctx) {
    entry *e = least_recent(pc);
    if (!e) return false;
    drop(pc, ctx, e);
    metrics_prefix_eviction();
    return true;
}

static entry *free_entry(prefix_cache *pc) {
    for (size_t i = 0; i < pc->n_entries; i++)
        if (!pc->entries[i].held) return &pc->entries[i];
    return NULL;
}

bool prefix_cache_store(prefix_cache *pc, tinfer_context *ctx, int32_t src, const int32_t *head,
                        size_t n_head, const int32_t *tail, size_t n_tokens, size_t n_exact) {
    if (pc->n_entries == 0 || n_tokens < PREFIX_BLOCK_TOKENS) return false;
    entry *e = free_entry(pc);
    if (!e && prefix_cache_evict(pc, ctx)) e = free_entry(pc); /* all held: the LRU one goes */
    if (tinfer_kv_seq_copy(ctx, src, e->seq) != TINFER_OK) {
        tinfer_kv_seq_clear(ctx, e->seq);
        return false;
    }
    if (n_head > n_tokens) n_head = n_tokens;
    memcpy(e->tokens, head, n_head * sizeof *head);
    memcpy(e->tokens + n_head, tail, (n_tokens - n_head) * sizeof *tail);
    prefix_hash(e->tokens, n_tokens, e->hashes);
    e->n_tokens = n_tokens;
    e->n_exact = n_exact < n_tokens ? n_exact : n_tokens;
    e->held = true;
    e->last_used = ++pc->clock;
    pc->n_held++;
    return true;
}

size_t prefix_cache_matches(const prefix_cache *pc, const int32_t *prompt,
                            const uint64_t *hashes, size_t n_prompt, prefix_match *out) {
    size_t n = 0;
    for (size_t i = 0; i < pc->n_entries; i++) {
        const entry *e = &pc->entries[i];
        if (!e->held) continue;
        const size_t shared =
            prefix_shared(prompt, hashes, n_prompt, e->tokens, e->hashes, e->n_tokens);
        if (shared > 0)
            out[n++] = (prefix_match){.seq = e->seq, .n_shared = shared, .n_exact = e->n_exact};
    }
    return n;
}

void prefix_cache_touch(prefix_cache *pc, int32_t seq) {
    for (size_t i = 0; i < pc->n_entries; i++)
        if (pc->entries[i].held && pc->entries[i].seq == seq)
            pc->entries[i].last_used = ++pc->clock;
}

size_t prefix_cache_count(const prefix_cache *pc) { return pc->n_held; }
