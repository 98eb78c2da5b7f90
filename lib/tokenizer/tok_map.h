/* Open-addressing hash tables for the tokenizer: byte strings → id (keys kept as offsets into a
 * caller's byte blob, so the blob may grow while the table is built) and 64-bit keys → 64-bit
 * values (merge pairs, code points, trie edges). Sized once; no deletion. */
#ifndef TINFER_TOKENIZER_TOK_MAP_H
#define TINFER_TOKENIZER_TOK_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint64_t tf_hash_bytes(const void *data, size_t len);

typedef struct tf_str_slot {
    uint32_t hash;    /* low 32 bits of the key's hash */
    int32_t value;    /* -1: empty slot */
    uint32_t key_off; /* key bytes: blob[key_off .. key_off + key_len) */
    uint32_t key_len;
} tf_str_slot;

typedef struct tf_str_map {
    tf_str_slot *slots;
    size_t mask; /* n_slots - 1 */
    size_t n_used;
} tf_str_map;

/* Room for at least n_keys at load factor ≤ 1/2. False when out of memory. */
bool tf_str_map_init(tf_str_map *map, size_t n_keys);
/* Inserts key → value unless the key is present; *existing gets the present value or -1. False
 * when the table is full (init was given too few keys). */
bool tf_str_map_put(tf_str_map *map, const char *blob, uint32_t key_off, uint32_t key_len,
                    int32_t value, int32_t *existing);
/* The value for key[0..len), or -1. */
int32_t tf_str_map_get(const tf_str_map *map, const char *blob, const char *key, size_t len);
void tf_str_map_free(tf_str_map *map);

/* Key and value side by side: a lookup touches one cache line (merge tables of Gemma's size do
 * not stay in cache, so a second array would cost a second miss per merge lookup). */
typedef struct tf_u64_slot {
    uint64_t key; /* UINT64_MAX: empty */
    uint64_t value;
} tf_u64_slot;

typedef struct tf_u64_map {
    tf_u64_slot *slots;
    size_t mask;
    size_t n_used;
} tf_u64_map;

bool tf_u64_map_init(tf_u64_map *map, size_t n_keys);
/* Inserts or replaces (a later merge for the same pair wins, as in Hugging Face). The key
 * UINT64_MAX is reserved. False when full. */
bool tf_u64_map_set(tf_u64_map *map, uint64_t key, uint64_t value);
/* True and *value when present. */
static inline bool tf_u64_map_get(const tf_u64_map *map, uint64_t key, uint64_t *value);
void tf_u64_map_free(tf_u64_map *map);

static inline uint64_t tf_mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static inline bool tf_u64_map_get(const tf_u64_map *map, uint64_t key, uint64_t *value) {
    if (map->slots == NULL) return false;
    size_t slot = (size_t)tf_mix64(key) & map->mask;
    for (;;) {
        uint64_t k = map->slots[slot].key;
        if (k == key) {
            *value = map->slots[slot].value;
            return true;
        }
        if (k == UINT64_MAX) return false;
        slot = (slot + 1) & map->mask;
    }
}

#endif
