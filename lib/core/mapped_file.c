/* File access: mmap when allowed, plain reads otherwise. */
#define _POSIX_C_SOURCE 200809L
#include "core/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static tinfer_status read_all(int fd, uint8_t *dst, size_t size, const char *path) {
    size_t done = 0;
    while (done < size) {
        ssize_t got = read(fd, dst + done, size - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            return tf_error(TINFER_E_IO, "%s: read failed after %zu of %zu bytes: %s", path, done,
                            size, got < 0 ? strerror(errno) : "unexpected end of file");
        done += (size_t)got;
    }
    return TINFER_OK;
}

static tinfer_status open_regular(const char *path, int *out_fd, size_t *out_size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tf_error(TINFER_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return tf_error(TINFER_E_IO, "%s: cannot stat: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tf_error(TINFER_E_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return tf_error(TINFER_E_IO, "%s: file too large for this address space", path);
    }
    *out_fd = fd;
    *out_size = (size_t)st.st_size;
    return TINFER_OK;
}

tinfer_status tf_mapped_file_open(const char *path, bool use_mmap, tf_mapped_file *out) {
    int fd;
    size_t size;
    tinfer_status status = open_regular(path, &fd, &size);
    if (status != TINFER_OK) return status;
    tf_mapped_file file = {.bytes = NULL, .size = size, .is_mapped = false};
    if (size > 0 && use_mmap) {
        void *addr = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (addr == MAP_FAILED) {
            int err = errno;
            close(fd);
            return tf_error(TINFER_E_IO, "%s: mmap failed: %s", path, strerror(err));
        }
        file.bytes = addr;
        file.is_mapped = true;
    } else if (size > 0) {
        uint8_t *buffer = malloc(size);
        if (!buffer) {
            close(fd);
            return tf_error(TINFER_E_NOMEM, "%s: cannot allocate %zu bytes", path, size);
        }
        status = read_all(fd, buffer, size, path);
        if (status != TINFER_OK) {
            free(buffer);
            close(fd);
            return status;
        }
        file.bytes = buffer;
    }
    close(fd);
    *out = file;
    return TINFER_OK;
}

void tf_mapped_file_close(tf_mapped_file *file) {
    if (!file || !file->bytes) return;
    if (file->is_mapped)
        munmap((void *)file->bytes, file->size);
    else
        free((void *)file->bytes);
    file->bytes = NULL;
    file->size = 0;
}

tinfer_status tf_read_text_file(const char *path, size_t max_bytes, char **out_text,
                                size_t *out_len) {
    int fd;
    size_t size;
    tinfer_status status = open_regular(path, &fd, &size);
    if (status != TINFER_OK) return status;
    if (size > max_bytes) {
        close(fd);
        return tf_error(TINFER_E_FORMAT, "%s: %zu bytes is larger than the %zu-byte limit", path,
                        size, max_bytes);
    }
    char *text = malloc(size + 1);
    if (!text) {
        close(fd);
        return tf_error(TINFER_E_NOMEM, "%s: cannot allocate %zu bytes", path, size + 1);
    }
    status = read_all(fd, (uint8_t *)text, size, path);
    close(fd);
    if (status != TINFER_OK) {
        free(text);
        return status;
    }
    text[size] = '\0';
    *out_text = text;
    *out_len = size;
    return TINFER_OK;
}
