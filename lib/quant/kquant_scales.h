/* Q4_K/Q5_K sub-block scales and mins: shared by the reference dequantizer and the CPU dot
 * products, so both read the packed bytes the same way. */
#ifndef TINFER_QUANT_KQUANT_SCALES_H
#define TINFER_QUANT_KQUANT_SCALES_H

#include <stdint.h>

/* 8 scales and 8 mins of 6 bits in 12 bytes (ggml's get_scale_min_k4). Sub-blocks 0-3 use the
 * low 6 bits of bytes 0-3 (scales) and 4-7 (mins); 4-7 take 4 bits from bytes 8-11 and their top
 * 2 bits from the spare top bits of bytes 0-3 (scales) and 4-7 (mins). */
static inline void tf_k4_scale_min(const uint8_t *scales, int sub, int *scale, int *min) {
    if (sub < 4) {
        *scale = scales[sub] & 63;
        *min = scales[sub + 4] & 63;
    } else {
        *scale = (scales[sub + 4] & 0x0F) | ((scales[sub - 4] >> 6) << 4);
        *min = (scales[sub + 4] >> 4) | ((scales[sub] >> 6) << 4);
    }
}

#endif
