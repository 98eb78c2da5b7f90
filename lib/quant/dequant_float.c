/* Plain float rows (F32, F16, BF16) widened to float32: exact, bit for bit, NaN payloads kept. */
#include <string.h>

#include "quant/dequant.h"
#include "quant/fp16.h"

void tf_dequant_row_f32(const void *src, float *dst, uint64_t n_elems) {
    /* Like the rest of the in-place weight path, this assumes a little-endian host. */
    memcpy(dst, src, (size_t)n_elems * sizeof(float));
}

void tf_dequant_row_f16(const void *src, float *dst, uint64_t n_elems) {
    const uint8_t *bytes = src;
    for (uint64_t i = 0; i < n_elems; i++) dst[i] = tf_f16_load(bytes + 2 * i);
}

void tf_dequant_row_bf16(const void *src, float *dst, uint64_t n_elems) {
    const uint8_t *bytes = src;
    for (uint64_t i = 0; i < n_elems; i++) {
        const uint16_t bf16 = (uint16_t)(bytes[2 * i] | (bytes[2 * i + 1] << 8));
        dst[i] = tf_bf16_to_f32(bf16);
    }
}
