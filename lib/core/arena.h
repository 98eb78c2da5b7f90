/* A bump allocator: many small allocations (names, strings) freed together with their owner. */
#ifndef TINFER_CORE_ARENA_H
#define TINFER_CORE_ARENA_H

#include <stddef.h>

typedef struct tf_arena_chunk tf_arena_chunk;
typedef struct tf_arena {
    tf_arena_chunk *head;
} tf_arena;

/* Zeroed, 16-byte aligned memory; NULL when out of memory (or size overflows). */
void *tf_arena_alloc(tf_arena *arena, size_t size);
/* Copies len bytes and appends a NUL; NULL when out of memory. */
char *tf_arena_strndup(tf_arena *arena, const char *text, size_t len);
void tf_arena_free(tf_arena *arena);

#endif
