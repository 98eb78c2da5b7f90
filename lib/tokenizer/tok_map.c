/* Hash tables of the tokenizer (see tok_map.h). Linear probing over a power-of-two table kept at
 * most half full, so a miss ends within a few slots. */
#include "tokenizer/tok_map.h"

#include <stdlib.h>
#include <string.h>

#include "core/checked.h"

/* 64-bit multiply-mix over 8-byte words: token strings are short, so per-byte loops (FNV) cost
 * more than the unaligned loads. */
uint64_t tf_hash_bytes(const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xc2b2ae3d27d4eb4fULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ tf_mix64(w)) * 0x9fb21c651e98df25ULL;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++) tail |= (uint64_t)p[i] << (8 * i);
    h = (h ^ tf_mix64(tail + len)) * 0x9fb21c651e98df25ULL;
    return tf_mix64(h);
}

static size_t table_slots(size_t n_keys) {
    size_t n = 16;
    while (n / 2 < n_keys && n < ((size_t)1 << 40)) n *= 2;
    return n;
}

bool tf_str_map_init(tf_str_map *map, size_t n_keys) {
    size_t n = table_slots(n_keys), bytes;
    memset(map, 0, sizeof *map);
    if (!tinfer_mul_size(n, sizeof(tf_str_slot), &bytes)) return false;
    map->slots = malloc(bytes);
    if (!map->slots) return false;
    for (size_t i = 0; i < n; i++) map->slots[i].value = -1;
    map->mask = n - 1;
    return true;
}

bool tf_str_map_put(tf_str_map *map, const char *blob, uint32_t key_off, uint32_t key_len,
                    int32_t value, int32_t *existing) {
    *existing = -1;
    if ((map->n_used + 1) * 2 > map->mask + 1) return false;
    const char *key = key_len ? blob + key_off : ""; /* blob may be NULL when empty */
    uint32_t hash = (uint32_t)tf_hash_bytes(key, key_len);
    size_t slot = hash & map->mask;
    for (;;) {
        tf_str_slot *s = &map->slots[slot];
        if (s->value < 0) {
            *s = (tf_str_slot){hash, value, key_off, key_len};
            map->n_used++;
            return true;
        }
        if (s->hash == hash && s->key_len == key_len &&
            (key_len == 0 || memcmp(blob + s->key_off, key, key_len) == 0)) {
            *existing = s->value;
            return true;
        }
        slot = (slot + 1) & map->mask;
    }
}

int32_t tf_str_map_get(const tf_str_map *map, const char *blob, const char *key, size_t len) {
    if (!map->slots) return -1;
    uint32_t hash = (uint32_t)tf_hash_bytes(key, len);
    size_t slot = hash & map->mask;
    for (;;) {
        const tf_str_slot *s = &map->slots[slot];
        if (s->value < 0) return -1;
        if (s->hash == hash && s->key_len == len &&
            (len == 0 || memcmp(blob + s->key_off, key, len) == 0))
            return s->value;
        slot = (slot + 1) & map->mask;
    }
}

void tf_str_map_free(tf_str_map *map) {
    free(map->slots);
    memset(map, 0, sizeof *map);
}

bool tf_u64_map_init(tf_u64_map *map, size_t n_keys) {
    size_t n = table_slots(n_keys), bytes;
    memset(map, 0, sizeof *map);
    if (!tinfer_mul_size(n, sizeof(tf_u64_slot), &bytes)) return false;
    map->slots = malloc(bytes);
    if (!map->slots) return false;
    memset(map->slots, 0xff, bytes); /* every key UINT64_MAX: empty */
    map->mask = n - 1;
    return true;
}

bool tf_u64_map_set(tf_u64_map *map, uint64_t key, uint64_t value) {
    if (key == UINT64_MAX || !map->slots) return false;
    size_t slot = (size_t)tf_mix64(key) & map->mask;
    for (;;) {
        tf_u64_slot *s = &map->slots[slot];
        if (s->key == key) {
            s->value = value;
            return true;
        }
        if (s->key == UINT64_MAX) {
            if ((map->n_used + 1) * 2 > map->mask + 1) return false;
            *s = (tf_u64_slot){key, value};
            map->n_used++;
            return true;
        }
        slot = (slot + 1) & map->mask;
    }
}

void tf_u64_map_free(tf_u64_map *map) {
    free(map->slots);
    memset(map, 0, sizeof *map);
}
