/* The CUDA backend behind the seam of backend.h: device memory for activations and the KV cache,
 * the weights uploaded once per model and device in their file dtypes (cuda_weights.c), the
 * step descriptor copied to the device at each pass, and the ops as launches of the kernels in
 * cuda_kernels.h on one stream per context.
 *
 * Written without a GPU at hand and not yet run on one, so a context asking for CUDA is refused
 * (E_UNSUPPORTED, saying so) unless TINFER_CUDA_UNTESTED=1 is set — as the CUDA forward test
 * sets it for itself — until the tests have passed on a device. Not here yet: the decode step
 * captured as a CUDA graph, the random KV fill of the benchmarks (E_UNSUPPORTED). */
#include "backend/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_device.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_state.h"
#include "core/checked.h"
#include "core/error.h"

_Static_assert((int)TFC_KV_BLOCK_TOKENS == (int)TF_KV_BLOCK_TOKENS,
               "the kernels' KV block is backend.h's");
_Static_assert(sizeof(tfc_span) == sizeof(tf_span), "tf_span is copied to the device as is");

/* A CUDA runtime status as the library's: out of memory, or an internal error naming the call. */
tinfer_status tf_cuda_check(int err, const char *what) {
    if (err == 0) return TINFER_OK;
    if (err == TFC_E_DTYPE)
        return tf_error(TINFER_E_UNSUPPORTED, "cuda backend: %s: no kernel for this dtype", what);
    if (err == TFC_E_SHAPE)
        return tf_error(TINFER_E_UNSUPPORTED, "cuda backend: %s: a shape the kernel does not take",
                        what);
    if (err == cudaErrorMemoryAllocation)
        return tf_error(TINFER_E_NOMEM, "cuda backend: %s: out of device memory", what);
    return tf_error(TINFER_E_DEVICE, "cuda backend: %s: %s", what,
                    cudaGetErrorString((cudaError_t)err));
}

static void *cuda_alloc(tf_backend *be, size_t bytes) {
    tf_cuda_state *s = be->state;
    void *p = NULL;
    if (cudaSetDevice(s->device) != cudaSuccess ||
        cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    if (cudaMemsetAsync(p, 0, bytes, s->stream) != cudaSuccess) {
        cudaFree(p);
        return NULL;
    }
    return p;
}

static void cuda_free(tf_backend *be, void *ptr) {
    (void)be;
    if (ptr) cudaFree(ptr);
}

static void free_pass(tf_cuda_pass *pass) {
    cudaFree(pass->d_tokens);
    cudaFree(pass->d_positions);
    cudaFree(pass->d_token_seq);
    cudaFree(pass->d_out_tokens);
    cudaFree(pass->d_spans_global);
    cudaFree(pass->d_spans_local);
    cudaFree(pass->d_tables);
    cudaFree(pass->d_local_tables);
    free(pass->h_tables);
    free(pass->h_local_tables);
    free(pass->out_logits);
}

static void cuda_destroy(tf_backend *be) {
    tf_cuda_state *s = be->state;
    if (s) {
        int previous = 0;
        cudaGetDevice(&previous);
        cudaSetDevice(s->device);
        if (s->stream) cudaStreamSynchronize(s->stream);
        free_pass(&s->pass);
        tf_cuda_kv_free(&s->kv);
        if (s->stream) cudaStreamDestroy(s->stream);
        cudaSetDevice(previous); /* the caller's current device, as it was */
        free(s);
    }
    free(be);
}

/* ---- the pass ---- */

static int to_device(void *dst, const void *src, size_t bytes, const tf_cuda_state *s) {
    return (int)cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s->stream);
}

static tinfer_status alloc_pass(tf_cuda_state *s) {
    tf_cuda_pass *p = &s->pass;
    const size_t n = s->config.n_batch;
    size_t entries;
    if (!tinfer_mul_size(s->config.n_seq_max, s->blocks_per_seq, &entries))
        return tf_error(TINFER_E_INVALID_ARG, "cuda backend: n_seq_max × n_ctx overflows");
    entries = entries ? entries : 1;
    int err = 0;
    tf_cuda_keep_first(&err, cudaMalloc((void **)&p->d_tokens, n * sizeof(int32_t)));
    tf_cuda_keep_first(&err, cudaMalloc((void **)&p->d_positions, n * sizeof(int32_t)));
    tf_cuda_keep_first(&err, cudaMalloc((void **)&p->d_token_seq, n * sizeof(uint32_t)));
    tf_cuda_keep_first(&err, cudaMalloc((void **)&p->d_out_tokens, n * sizeof(uint32_t)));
    tf_cuda_keep_first(&err, cudaMalloc((void **)&p->d_spans_global, n * sizeof(tf_span)));
    tf_cuda_keep_first(&err, cudaMalloc((void **)&p->d_spans_local, n * sizeof(tf_span)));
    tf_cuda_keep_first(&err, cudaMalloc((void **)&p->d_tables, entries * sizeof(uint32_t)));
    tf_cuda_keep_first(&err, cudaMalloc((void **)&p->d_local_tables, entries * sizeof(uint32_t)));
    p->h_tables = calloc(entries, sizeof(uint32_t));
    p->h_local_tables = calloc(entries, sizeof(uint32_t));
    p->out_logits = calloc(n ? n : 1, sizeof(float *));
    if (err || !p->h_tables || !p->h_local_tables || !p->out_logits)
        return tf_error(TINFER_E_NOMEM, "cuda backend: out of memory for a pass of %zu tokens", n);
    return TINFER_OK;
}

static tinfer_status cuda_begin_pass(tf_backend *be, const tf_step *step) {
    tf_cuda_state *s = be->state;
    tf_cuda_pass *p = &s->pass;
    const tinfer_status checked =
        tf_backend_check_step("cuda backend", &s->config, s->blocks_per_seq, step);
    if (checked != TINFER_OK) return checked;
    const size_t n = step->n_tokens;
    p->kind = step->kind;
    p->name = step->name;
    p->n_tokens = step->n_tokens;
    p->n_out = step->n_out;
    p->out_first = 0;
    p->out_count = step->n_out;
    p->n_vocab_out = 0;
    if (step->n_out) memcpy(p->out_logits, step->out_logits, step->n_out * sizeof(float *));
    for (uint32_t q = 0; q < step->n_seqs; q++) {
        memcpy(p->h_tables + (size_t)q * s->blocks_per_seq, step->tables[q],
               step->n_table_blocks * sizeof(uint32_t));
        memcpy(p->h_local_tables + (size_t)q * s->blocks_per_seq, step->local_tables[q],
               step->n_table_blocks * sizeof(uint32_t));
    }
    const size_t table_bytes = (size_t)step->n_seqs * s->blocks_per_seq * sizeof(uint32_t);
    /* On the context's stream, so that the copies land after the kernels of an earlier pass (one
     * that failed without end_pass may still run) and before this pass's. From pageable memory
     * the source is staged before the call returns, so the caller's arrays may change after.
     * (A graph-captured step will stage them in pinned memory instead.) */
    int err = 0;
    tf_cuda_keep_first(&err, cudaSetDevice(s->device)); /* this host thread's current device */
    tf_cuda_keep_first(&err, to_device(p->d_tokens, step->tokens, n * sizeof(int32_t), s));
    tf_cuda_keep_first(&err, to_device(p->d_positions, step->positions, n * sizeof(int32_t), s));
    tf_cuda_keep_first(&err, to_device(p->d_token_seq, step->token_seq, n * sizeof(uint32_t), s));
    tf_cuda_keep_first(&err,
                       to_device(p->d_spans_global, step->spans_global, n * sizeof(tf_span), s));
    tf_cuda_keep_first(&err,
                       to_device(p->d_spans_local, step->spans_local, n * sizeof(tf_span), s));
    tf_cuda_keep_first(&err, to_device(p->d_tables, p->h_tables, table_bytes, s));
    tf_cuda_keep_first(&err, to_device(p->d_local_tables, p->h_local_tables, table_bytes, s));
    if (step->n_out)
        tf_cuda_keep_first(
            &err, to_device(p->d_out_tokens, step->out_tokens, step->n_out * sizeof(uint32_t), s));
    if (err) return tf_cuda_check(err, "begin_pass");
    if (be->trace) p->start_ns = tf_trace_now_ns();
    return TINFER_OK;
}

static tinfer_status cuda_end_pass(tf_backend *be) {
    tf_cuda_state *s = be->state;
    const tinfer_status status = tf_cuda_check((int)cudaStreamSynchronize(s->stream), "pass");
    if (be->trace)
        tf_trace_record(be->trace, s->pass.name, -1, s->pass.n_tokens, s->pass.n_vocab_out,
                        s->pass.start_ns);
    return status;
}

static tinfer_status cuda_out_select(tf_backend *be, uint32_t first, uint32_t count) {
    tf_cuda_pass *p = &((tf_cuda_state *)be->state)->pass;
    const tinfer_status status = tf_backend_check_out_rows("cuda backend", first, count, p->n_out);
    if (status != TINFER_OK) return status;
    p->out_first = first;
    p->out_count = count;
    return TINFER_OK;
}

static tinfer_status cuda_logits_out(tf_backend *be, const float *logits, uint32_t n_vocab) {
    tf_cuda_state *s = be->state;
    tf_cuda_pass *p = &s->pass;
    for (uint32_t i = 0; i < p->out_count; i++) {
        const cudaError_t err =
            cudaMemcpyAsync(p->out_logits[p->out_first + i], logits + (size_t)i * n_vocab,
                            (size_t)n_vocab * sizeof(float), cudaMemcpyDeviceToHost, s->stream);
        if (err != cudaSuccess) return tf_cuda_check((int)err, "logits_out");
    }
    p->n_vocab_out = n_vocab;
    /* the host rows are read as soon as the pass returns */
    return tf_cuda_check((int)cudaStreamSynchronize(s->stream), "logits_out");
}

static void cuda_op_begin(tf_backend *be) {
    tf_cuda_state *s = be->state;
    cudaStreamSynchronize(s->stream);
    s->op_start_ns = tf_trace_now_ns();
}

static void cuda_op_end(tf_backend *be, const char *name, int32_t layer, size_t rows, size_t cols) {
    tf_cuda_state *s = be->state;
    cudaStreamSynchronize(s->stream); /* the profiler's times are the kernels' */
    tf_trace_record(be->trace, name, layer, rows, cols, s->op_start_ns);
}

static const tf_backend_ops CUDA_OPS = {
    .name = "cuda",
    .destroy = cuda_destroy,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload_weights = tf_cuda_upload_weights,
    .release_weights = tf_cuda_release_weights,
    .use_weights = tf_cuda_use_weights,
    .kv_alloc = tf_cuda_kv_alloc,
    .kv_read = tf_cuda_kv_read,
    .kv_write = tf_cuda_kv_write,
    .kv_fill_random = tf_cuda_kv_fill_random,
    .kv_copy_blocks = tf_cuda_kv_copy_blocks,
    .begin_pass = cuda_begin_pass,
    .end_pass = cuda_end_pass,
    .out_select = cuda_out_select,
    .logits_out = cuda_logits_out,
    .matmul = tf_cuda_matmul,
    .matmul_multi = tf_cuda_matmul_multi,
    .embed = tf_cuda_embed,
    .gather_out = tf_cuda_gather_out,
    .rmsnorm = tf_cuda_rmsnorm,
    .rope = tf_cuda_rope,
    .kv_store = tf_cuda_kv_store,
    .attention = tf_cuda_attention,
    .ffn_gate = tf_cuda_ffn_gate,
    .add = tf_cuda_add,
    .add_bias = tf_cuda_add_bias,
    .scale = tf_cuda_scale,
    .softcap = tf_cuda_softcap,
    .op_begin = cuda_op_begin,
    .op_end = cuda_op_end,
};

tinfer_status tf_backend_cuda_create(const tf_backend_config *config, tf_backend **out) {
    const int n_devices = tf_cuda_device_count();
    if (config->device_index < 0 || config->device_index >= n_devices)
        return tf_error(TINFER_E_UNSUPPORTED,
                        "TINFER_DEVICE_CUDA: device_index %d, but %d CUDA device%s usable here",
                        (int)config->device_index, n_devices, n_devices == 1 ? " is" : "s are");
    const char *untested = getenv("TINFER_CUDA_UNTESTED");
    if (!untested || strcmp(untested, "1") != 0)
        return tf_error(TINFER_E_UNSUPPORTED,
                        "TINFER_DEVICE_CUDA: CUDA device %d is present, but this version's CUDA "
                        "forward pass has not been run on a GPU yet; set TINFER_CUDA_UNTESTED=1 "
                        "to try it",
                        (int)config->device_index);
    tf_backend *be = calloc(1, sizeof *be);
    tf_cuda_state *s = calloc(1, sizeof *s);
    if (!be || !s) {
        free(be);
        free(s);
        return tf_error(TINFER_E_NOMEM, "cuda backend: out of memory");
    }
    s->config = *config;
    s->device = config->device_index;
    s->blocks_per_seq = (config->n_ctx + TF_KV_BLOCK_TOKENS - 1) / TF_KV_BLOCK_TOKENS;
    *be = (tf_backend){.ops = &CUDA_OPS,
                       .device = TINFER_DEVICE_CUDA,
                       .device_index = config->device_index,
                       .state = s};
    tinfer_status status = tf_cuda_check((int)cudaSetDevice(s->device), "cudaSetDevice");
    cudaStream_t stream = NULL;
    if (status == TINFER_OK)
        status = tf_cuda_check((int)cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking),
                               "cudaStreamCreate");
    s->stream = stream;
    if (status == TINFER_OK) status = alloc_pass(s);
    if (status != TINFER_OK) {
        cuda_destroy(be);
        return status;
    }
    *out = be;
    return TINFER_OK;
}
