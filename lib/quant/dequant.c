/* Which decoder serves which dtype, and the checked entry point that calls it. */
#include "quant/dequant.h"

#include "core/error.h"
#include "quant/dtype.h"

tf_dequant_fn tf_dequant_fn_of(tinfer_dtype dtype) {
    /* A switch rather than an indexed table: dtype may be any value read from a file. */
    switch (dtype) {
    case TINFER_DTYPE_F32:
        return tf_dequant_row_f32;
    case TINFER_DTYPE_F16:
        return tf_dequant_row_f16;
    case TINFER_DTYPE_BF16:
        return tf_dequant_row_bf16;
    case TINFER_DTYPE_Q4_0:
        return tf_dequant_row_q4_0;
    case TINFER_DTYPE_Q4_1:
        return tf_dequant_row_q4_1;
    case TINFER_DTYPE_Q5_0:
        return tf_dequant_row_q5_0;
    case TINFER_DTYPE_Q5_1:
        return tf_dequant_row_q5_1;
    case TINFER_DTYPE_Q8_0:
        return tf_dequant_row_q8_0;
    case TINFER_DTYPE_Q2_K:
        return tf_dequant_row_q2_k;
    case TINFER_DTYPE_Q3_K:
        return tf_dequant_row_q3_k;
    case TINFER_DTYPE_Q4_K:
        return tf_dequant_row_q4_k;
    case TINFER_DTYPE_Q5_K:
        return tf_dequant_row_q5_k;
    case TINFER_DTYPE_Q6_K:
        return tf_dequant_row_q6_k;
    default:
        return NULL;
    }
}

tinfer_status tf_dequantize_row(tinfer_dtype dtype, const void *src, float *dst, uint64_t n_elems) {
    const tf_dtype_traits *traits = tf_dtype_traits_of((uint32_t)dtype);
    const tf_dequant_fn decode = tf_dequant_fn_of(dtype);
    if (!traits || !decode)
        return tf_error(TINFER_E_UNSUPPORTED, "dequantize: no decoder for dtype %s (%d)",
                        traits ? traits->name : "unknown", (int)dtype);
    if (n_elems % traits->block_elems != 0)
        return tf_error(TINFER_E_INVALID_ARG,
                        "dequantize: %llu elements is not a multiple of the %s block size %u",
                        (unsigned long long)n_elems, traits->name, traits->block_elems);
    if (n_elems == 0) return TINFER_OK;
    if (!src || !dst)
        return tf_error(TINFER_E_INVALID_ARG, "dequantize: %s is NULL", src ? "dst" : "src");
    decode(src, dst, n_elems);
    return TINFER_OK;
}
