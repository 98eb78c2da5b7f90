/* See huge_alloc.h. An anonymous mapping is zeroed and committed page by page as it is touched,
 * like calloc's large blocks, so only the part of the cache in use is resident. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, madvise */
#endif
#include "core/huge_alloc.h"

#include <stdlib.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core/checked.h"

enum { HUGE_PAGE = 2u << 20 }; /* x86-64 and arm64 (4 KiB base pages) PMD size */

static bool small_alloc(size_t bytes, tf_huge_buf *out) {
    *out = (tf_huge_buf){.data = calloc(1, bytes ? bytes : 1)};
    return out->data != NULL;
}

/* A zeroed anonymous mapping of bytes, 2 MiB-aligned, with the page-size advice given. */
static bool mapped_alloc(size_t bytes, bool huge, tf_huge_buf *out) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    size_t map_bytes;
    /* below one huge page there is nothing to gain; above, one extra page leaves room to align */
    if (bytes < HUGE_PAGE || !tinfer_add_size(bytes, HUGE_PAGE, &map_bytes))
        return small_alloc(bytes, out);
    void *map = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        *out = (tf_huge_buf){0};
        return false;
    }
    const uintptr_t aligned = ((uintptr_t)map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    /* advice: refused means the system's default */
    (void)madvise((void *)aligned, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    *out = (tf_huge_buf){.data = (uint8_t *)aligned, .map = map, .map_bytes = map_bytes};
    return true;
#else
    (void)huge;
    return small_alloc(bytes, out);
#endif
}

bool tf_huge_alloc(size_t bytes, tf_huge_buf *out) { return mapped_alloc(bytes, true, out); }

bool tf_base_pages_alloc(size_t bytes, tf_huge_buf *out) { return mapped_alloc(bytes, false, out); }

void tf_huge_prefault(tf_huge_buf *buf, size_t bytes) {
    if (!buf->data) return;
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    /* one system call for the range; a page-aligned start is required */
    if (buf->map && madvise(buf->data, bytes, MADV_POPULATE_WRITE) == 0) return;
#endif
    /* writing the zero already there commits the page without changing the contents */
    volatile uint8_t *bytes_of = buf->data;
    for (size_t at = 0; at < bytes; at += 4096) bytes_of[at] = 0;
}

void tf_huge_free(tf_huge_buf *buf) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (buf->map) munmap(buf->map, buf->map_bytes);
    else free(buf->data);
#else
    free(buf->data);
#endif
    *buf = (tf_huge_buf){0};
}
