/* Block geometry of every dtype GGUF defines, as ggml's type traits give it (ggml-common.h). */
#include "quant/dtype.h"

#include <stddef.h>

#include "core/checked.h"
#include "core/error.h"
#include "quant/blocks.h"

/* Block sizes come from the block structs (quant/blocks.h), the one place that states them. */
#define TRAITS(name, elems, type) \
    { name, elems, (uint32_t)sizeof(type) }
static const tf_dtype_traits DTYPE_TABLE[] = {
    [TINFER_DTYPE_F32] = TRAITS("F32", 1, float),
    [TINFER_DTYPE_F16] = TRAITS("F16", 1, uint16_t),
    [TINFER_DTYPE_Q4_0] = TRAITS("Q4_0", TF_QK4_0, tf_block_q4_0),
    [TINFER_DTYPE_Q4_1] = TRAITS("Q4_1", TF_QK4_1, tf_block_q4_1),
    [TINFER_DTYPE_Q5_0] = TRAITS("Q5_0", TF_QK5_0, tf_block_q5_0),
    [TINFER_DTYPE_Q5_1] = TRAITS("Q5_1", TF_QK5_1, tf_block_q5_1),
    [TINFER_DTYPE_Q8_0] = TRAITS("Q8_0", TF_QK8_0, tf_block_q8_0),
    [TINFER_DTYPE_Q8_1] = TRAITS("Q8_1", TF_QK8_1, tf_block_q8_1),
    [TINFER_DTYPE_Q2_K] = TRAITS("Q2_K", TF_QK_K, tf_block_q2_k),
    [TINFER_DTYPE_Q3_K] = TRAITS("Q3_K", TF_QK_K, tf_block_q3_k),
    [TINFER_DTYPE_Q4_K] = TRAITS("Q4_K", TF_QK_K, tf_block_q4_k),
    [TINFER_DTYPE_Q5_K] = TRAITS("Q5_K", TF_QK_K, tf_block_q5_k),
    [TINFER_DTYPE_Q6_K] = TRAITS("Q6_K", TF_QK_K, tf_block_q6_k),
    [TINFER_DTYPE_Q8_K] = TRAITS("Q8_K", TF_QK_K, tf_block_q8_k),
    [TINFER_DTYPE_I8] = TRAITS("I8", 1, int8_t),
    [TINFER_DTYPE_I16] = TRAITS("I16", 1, int16_t),
    [TINFER_DTYPE_I32] = TRAITS("I32", 1, int32_t),
    [TINFER_DTYPE_I64] = TRAITS("I64", 1, int64_t),
    [TINFER_DTYPE_F64] = TRAITS("F64", 1, double),
    [TINFER_DTYPE_BF16] = TRAITS("BF16", 1, uint16_t),
};
#undef TRAITS

const tf_dtype_traits *tf_dtype_traits_of(uint32_t dtype_id) {
    if (dtype_id >= sizeof DTYPE_TABLE / sizeof DTYPE_TABLE[0]) return NULL;
    const tf_dtype_traits *traits = &DTYPE_TABLE[dtype_id];
    return traits->name ? traits : NULL;
}

TINFER_API const char *tinfer_dtype_name(tinfer_dtype dtype) {
    const tf_dtype_traits *traits = tf_dtype_traits_of((uint32_t)dtype);
    return traits ? traits->name : NULL;
}

tinfer_status tf_dtype_tensor_bytes(tinfer_dtype dtype, uint64_t row_elems, uint64_t n_rows,
                                    const char *what_for, uint64_t *out_bytes) {
    const tf_dtype_traits *traits = tf_dtype_traits_of((uint32_t)dtype);
    if (!traits)
        return tf_error(TINFER_E_UNSUPPORTED, "%s: unknown dtype %d", what_for, (int)dtype);
    if (row_elems % traits->block_elems != 0)
        return tf_error(TINFER_E_FORMAT,
                        "%s: row length %llu is not a multiple of the %s block size %u", what_for,
                        (unsigned long long)row_elems, traits->name, traits->block_elems);
    uint64_t row_bytes, total;
    if (!tinfer_mul_u64(row_elems / traits->block_elems, traits->block_bytes, &row_bytes) ||
        !tinfer_mul_u64(row_bytes, n_rows, &total))
        return tf_error(TINFER_E_FORMAT, "%s: data size overflows 64 bits", what_for);
    *out_bytes = total;
    return TINFER_OK;
}
