/* Chunked bump allocation. Big requests get a chunk of their own so small ones don't waste space. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"

enum { ARENA_CHUNK_BYTES = 64 * 1024, ARENA_ALIGN = 16 };

struct tf_arena_chunk {
    tf_arena_chunk *next;
    size_t used;
    size_t cap;
    _Alignas(16) unsigned char bytes[];
};

static tf_arena_chunk *chunk_new(size_t cap) {
    size_t total;
    if (!tinfer_add_size(sizeof(tf_arena_chunk), cap, &total)) return NULL;
    tf_arena_chunk *chunk = calloc(1, total);
    if (chunk) chunk->cap = cap;
    return chunk;
}

void *tf_arena_alloc(tf_arena *arena, size_t size) {
    size_t rounded;
    if (!tinfer_add_size(size, ARENA_ALIGN - 1, &rounded)) return NULL;
    rounded &= ~(size_t)(ARENA_ALIGN - 1);
    if (rounded == 0) rounded = ARENA_ALIGN;
    tf_arena_chunk *head = arena->head;
    if (!head || head->cap - head->used < rounded) {
        size_t cap = rounded > ARENA_CHUNK_BYTES / 4 ? rounded : ARENA_CHUNK_BYTES;
        tf_arena_chunk *chunk = chunk_new(cap);
        if (!chunk) return NULL;
        if (cap == rounded && head) {
            /* keep the partly used chunk on top for the small requests that follow */
            chunk->next = head->next;
            head->next = chunk;
            chunk->used = rounded;
            return chunk->bytes;
        }
        chunk->next = head;
        arena->head = head = chunk;
    }
    void *out = head->bytes + head->used;
    head->used += rounded;
    return out;
}

char *tf_arena_strndup(tf_arena *arena, const char *text, size_t len) {
    size_t total;
    if (!tinfer_add_size(len, 1, &total)) return NULL;
    char *copy = tf_arena_alloc(arena, total);
    if (!copy) return NULL;
    if (len) memcpy(copy, text, len);
    copy[len] = '\0';
    return copy;
}

void tf_arena_free(tf_arena *arena) {
    tf_arena_chunk *chunk = arena->head;
    while (chunk) {
        tf_arena_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    arena->head = NULL;
}
