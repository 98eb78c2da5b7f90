/* A whole file as read-only bytes: mapped (weights used in place) or read into memory. */
#ifndef TINFER_CORE_MAPPED_FILE_H
#define TINFER_CORE_MAPPED_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinfer/tinfer.h"

typedef struct tf_mapped_file {
    const uint8_t *bytes; /* NULL for an empty file */
    size_t size;
    bool is_mapped;       /* true: munmap on close; false: free */
} tf_mapped_file;

/* Opens path. Errors: E_IO (cannot open/read/map, or a directory), with the path in the message. */
tinfer_status tf_mapped_file_open(const char *path, bool use_mmap, tf_mapped_file *out);
void tf_mapped_file_close(tf_mapped_file *file);

/* Reads a small text file (config.json, an index) into a NUL-terminated heap buffer of at most
 * max_bytes; E_FORMAT when larger. */
tinfer_status tf_read_text_file(const char *path, size_t max_bytes, char **out_text,
                                size_t *out_len);

#endif
