/* UTF-8 for the tokenizer: validation with the "maximal subpart" replacement rule that Python's
 * bytes.decode(errors="replace") and Rust's String::from_utf8_lossy both follow (each maximal
 * invalid subsequence becomes one U+FFFD), so our handling of invalid input equals the reference. */
#ifndef TINFER_TOKENIZER_UTF8_H
#define TINFER_TOKENIZER_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid character at s[0..n), or 0 when s does not start with one; then
 * *bad_len is the length of the maximal subpart to replace and *truncated tells whether it ran
 * into the end of the input (a character that more bytes could still complete). n ≥ 1. */
size_t tf_utf8_check(const uint8_t *s, size_t n, size_t *bad_len, bool *truncated);

/* True when all of s[0..n) is valid UTF-8. */
bool tf_utf8_valid(const uint8_t *s, size_t n);

/* Writes s[0..n) with each maximal invalid subsequence replaced by U+FFFD into out (which must
 * hold 3 * n bytes); returns the bytes written. */
size_t tf_utf8_sanitize(const uint8_t *s, size_t n, uint8_t *out);

/* Decodes the valid character at s (length from tf_utf8_check). */
uint32_t tf_utf8_decode(const uint8_t *s, size_t len);
/* Encodes cp (≤ 0x10FFFF) into out[0..4); returns the length. */
size_t tf_utf8_encode(uint32_t cp, uint8_t *out);

#endif
