/* Block geometry of every dtype GGUF defines, from ggml's type traits (ggml-common.h). */
#include "quant/dtype.h"

#include <stddef.h>

#include "core/checked.h"
#include "core/error.h"

static const tf_dtype_traits DTYPE_TABLE[] = {
    [TINFER_DTYPE_F32] = {"F32", 1, 4},      [TINFER_DTYPE_F16] = {"F16", 1, 2},
    [TINFER_DTYPE_Q4_0] = {"Q4_0", 32, 18},  [TINFER_DTYPE_Q4_1] = {"Q4_1", 32, 20},
    [TINFER_DTYPE_Q5_0] = {"Q5_0", 32, 22},  [TINFER_DTYPE_Q5_1] = {"Q5_1", 32, 24},
    [TINFER_DTYPE_Q8_0] = {"Q8_0", 32, 34},  [TINFER_DTYPE_Q8_1] = {"Q8_1", 32, 36},
    [TINFER_DTYPE_Q2_K] = {"Q2_K", 256, 84}, [TINFER_DTYPE_Q3_K] = {"Q3_K", 256, 110},
    [TINFER_DTYPE_Q4_K] = {"Q4_K", 256, 144}, [TINFER_DTYPE_Q5_K] = {"Q5_K", 256, 176},
    [TINFER_DTYPE_Q6_K] = {"Q6_K", 256, 210}, [TINFER_DTYPE_Q8_K] = {"Q8_K", 256, 292},
    [TINFER_DTYPE_I8] = {"I8", 1, 1},        [TINFER_DTYPE_I16] = {"I16", 1, 2},
    [TINFER_DTYPE_I32] = {"I32", 1, 4},      [TINFER_DTYPE_I64] = {"I64", 1, 8},
    [TINFER_DTYPE_F64] = {"F64", 1, 8},      [TINFER_DTYPE_BF16] = {"BF16", 1, 2},
};

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
    if (!traits) return tf_error(TINFER_E_UNSUPPORTED, "%s: unknown dtype %d", what_for, (int)dtype);
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
