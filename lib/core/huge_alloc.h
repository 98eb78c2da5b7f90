/* Large zeroed buffers on transparent huge pages where the OS offers them (Linux, THP in
 * "madvise" or "always" mode): the KV cache is read row by row across tens of megabytes per layer,
 * and with 4 KiB pages every few rows cost a TLB miss — 2 MiB pages halved the V walk of a
 * 32K-token span in a micro-benchmark. Small buffers, and systems without madvise, get calloc. */
#ifndef TINFER_CORE_HUGE_ALLOC_H
#define TINFER_CORE_HUGE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tf_huge_buf {
    uint8_t *data;    /* bytes zeroed bytes, 2 MiB-aligned when mapped; NULL when empty */
    void *map;        /* the mapping to unmap, NULL when data came from calloc */
    size_t map_bytes; /* its length */
} tf_huge_buf;

/* A zeroed buffer of bytes (at least 1); false when out of memory (*out left empty). */
bool tf_huge_alloc(size_t bytes, tf_huge_buf *out);

/* The same on base pages (MADV_NOHUGEPAGE, also where the system makes huge pages the default):
 * for storage touched in scattered small pieces, where one touched byte must not commit and zero
 * 2 MiB (the KV cache's per-sequence rings). Released with tf_huge_free. */
bool tf_base_pages_alloc(size_t bytes, tf_huge_buf *out);

/* Makes every page of bytes [0, bytes) of buf resident now, as a first write would (the contents
 * stay zero): what a context asked to prefault its KV cache pays at creation instead of on its
 * first long prompts. Where the system cannot populate a range (MADV_POPULATE_WRITE is Linux 5.14+),
 * one byte per 4 KiB page is written. */
void tf_huge_prefault(tf_huge_buf *buf, size_t bytes);

/* Releases it and leaves it empty; an empty buffer is accepted. */
void tf_huge_free(tf_huge_buf *buf);

#endif
