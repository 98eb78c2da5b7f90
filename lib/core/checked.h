/* Overflow-checked size arithmetic: the only way untrusted counts and lengths are combined. */
#ifndef TINFER_CORE_CHECKED_H
#define TINFER_CORE_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Each returns false (and leaves *out unspecified) when the exact result does not fit. */
static inline bool tinfer_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool tinfer_add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool tinfer_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool tinfer_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* Rounds value up to a multiple of alignment (a power of two); false on overflow. */
static inline bool tinfer_align_u64(uint64_t value, uint64_t alignment, uint64_t *out) {
    uint64_t bumped;
    if (!tinfer_add_u64(value, alignment - 1, &bumped)) return false;
    *out = bumped & ~(alignment - 1);
    return true;
}

/* True when [offset, offset + length) lies inside [0, size). */
static inline bool tinfer_range_ok(uint64_t offset, uint64_t length, uint64_t size) {
    return offset <= size && length <= size - offset;
}

#endif
