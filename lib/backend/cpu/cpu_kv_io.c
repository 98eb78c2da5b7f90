/* The snapshots' way into and out of the host KV cache: a run of one sequence's rows in one layer
 * copied to or from packed host memory, K rows then V rows, addressed through tf_cpu_kv_row as
 * attention reads them. Rows of one block are adjacent, so each block's share is one memcpy. */
#include <string.h>

#include "backend/cpu/cpu_ops.h"

/* Rows [first, first + n) of K (value false) or V storage: copied to `out` when it is not NULL,
 * else from `in`. */
static void copy_rows(const tf_cpu_kv *kv, const tf_kv_rows *rows, bool value, uint8_t *out,
                      const uint8_t *in) {
    const size_t row_bytes = value ? kv->v_row_bytes : kv->k_row_bytes;
    size_t done = 0;
    for (uint32_t pos = rows->first, end = rows->first + rows->n; pos < end;) {
        uint32_t run = TF_KV_BLOCK_TOKENS - pos % TF_KV_BLOCK_TOKENS;
        if (run > end - pos) run = end - pos;
        uint8_t *cached = tf_cpu_kv_row(kv, rows->layer, value, rows->table, pos);
        if (out) memcpy(out + done, cached, run * row_bytes);
        else memcpy(cached, in + done, run * row_bytes);
        done += run * row_bytes;
        pos += run;
    }
}

static size_t k_bytes(const tf_cpu_kv *kv, uint32_t n) {
    return (size_t)n * kv->k_row_bytes;
}

tinfer_status tf_cpu_kv_read(tf_backend *be, const tf_kv_rows *rows, void *host) {
    const tf_cpu_kv *kv = &((const tf_cpu_state *)be->state)->kv;
    copy_rows(kv, rows, false, host, NULL);
    copy_rows(kv, rows, true, (uint8_t *)host + k_bytes(kv, rows->n), NULL);
    return TINFER_OK;
}

tinfer_status tf_cpu_kv_write(tf_backend *be, const tf_kv_rows *rows, const void *host) {
    const tf_cpu_kv *kv = &((const tf_cpu_state *)be->state)->kv;
    copy_rows(kv, rows, false, NULL, host);
    copy_rows(kv, rows, true, NULL, (const uint8_t *)host + k_bytes(kv, rows->n));
    return TINFER_OK;
}
