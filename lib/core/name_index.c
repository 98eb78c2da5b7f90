/* Open addressing with linear probing, FNV-1a hashes, load factor at most 1/2. */
#include "core/name_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_name(const char *name) {
    uint64_t hash = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        hash ^= *p;
        hash *= 1099511628211ull;
    }
    return hash;
}

static size_t find_slot(const tf_name_index *index, const char *name) {
    size_t mask = index->n_slots - 1;
    size_t slot = (size_t)hash_name(name) & mask;
    while (index->names[slot] && strcmp(index->names[slot], name) != 0) slot = (slot + 1) & mask;
    return slot;
}

static bool grow(tf_name_index *index) {
    size_t n_slots = index->n_slots ? index->n_slots * 2 : 64;
    if (n_slots > SIZE_MAX / sizeof(size_t)) return false;
    tf_name_index bigger = {calloc(n_slots, sizeof(char *)), calloc(n_slots, sizeof(size_t)),
                            n_slots, 0};
    if (!bigger.names || !bigger.positions) {
        tf_name_index_free(&bigger);
        return false;
    }
    for (size_t i = 0; i < index->n_slots; i++) {
        if (!index->names[i]) continue;
        size_t slot = find_slot(&bigger, index->names[i]);
        bigger.names[slot] = index->names[i];
        bigger.positions[slot] = index->positions[i];
        bigger.n_used++;
    }
    tf_name_index_free(index);
    *index = bigger;
    return true;
}

bool tf_name_index_put(tf_name_index *index, const char *name, size_t position, bool *duplicate) {
    *duplicate = false;
    if ((index->n_used + 1) * 2 > index->n_slots && !grow(index)) return false;
    size_t slot = find_slot(index, name);
    if (index->names[slot]) {
        *duplicate = true;
        return true;
    }
    index->names[slot] = name;
    index->positions[slot] = position;
    index->n_used++;
    return true;
}

bool tf_name_index_get(const tf_name_index *index, const char *name, size_t *position) {
    if (index->n_slots == 0) return false;
    size_t slot = find_slot(index, name);
    if (!index->names[slot]) return false;
    *position = index->positions[slot];
    return true;
}

void tf_name_index_free(tf_name_index *index) {
    free(index->names);
    free(index->positions);
    index->names = NULL;
    index->positions = NULL;
    index->n_slots = index->n_used = 0;
}
