/* A model's weights on a CUDA device: every host region the forward pass reads from (the file's
 * tensor data, the float32 norms, the RoPE divisors) copied whole, in the file's dtypes — the
 * kernels decode blocks themselves, so nothing is widened in device memory — and the translation
 * of the host pointers the forward pass hands the ops into their device copies. */
#include <cuda_runtime_api.h>
#include <stdlib.h>

#include "backend/cuda/cuda_state.h"
#include "core/error.h"

void tf_cuda_release_weights(void *copy) {
    tf_cuda_weights *w = copy;
    if (!w) return;
    int previous = 0;
    cudaGetDevice(&previous);
    cudaSetDevice(w->device);
    for (size_t i = 0; i < w->n && w->dev; i++) cudaFree(w->dev[i]);
    cudaSetDevice(previous);
    free(w->host);
    free(w->bytes);
    free(w->dev);
    free(w);
}

tinfer_status tf_cuda_upload_weights(tf_backend *be, const tf_weight_regions *regions,
                                     void **copy) {
    tf_cuda_state *s = be->state;
    tf_cuda_weights *w = calloc(1, sizeof *w);
    const size_t n = regions->n ? regions->n : 1;
    if (w) {
        w->device = s->device;
        w->n = regions->n;
        w->host = calloc(n, sizeof *w->host);
        w->bytes = calloc(n, sizeof *w->bytes);
        w->dev = calloc(n, sizeof *w->dev);
    }
    if (!w || !w->host || !w->bytes || !w->dev) {
        tf_cuda_release_weights(w);
        return tf_error(TINFER_E_NOMEM, "cuda backend: out of memory");
    }
    size_t total = 0;
    if (cudaSetDevice(s->device) != cudaSuccess) {
        tf_cuda_release_weights(w);
        return tf_cuda_check((int)cudaGetLastError(), "cudaSetDevice");
    }
    for (size_t i = 0; i < regions->n; i++) {
        const tf_weight_region *r = &regions->regions[i];
        w->host[i] = r->host;
        w->bytes[i] = r->bytes;
        int err = (int)cudaMalloc((void **)&w->dev[i], r->bytes ? r->bytes : 1);
        if (!err && r->bytes)
            err = (int)cudaMemcpy(w->dev[i], r->host, r->bytes, cudaMemcpyHostToDevice);
        if (err) {
            cudaGetLastError();
            tf_cuda_release_weights(w);
            if (err == cudaErrorMemoryAllocation)
                return tf_error(TINFER_E_NOMEM,
                                "cuda backend: out of device memory for the weights (%zu bytes "
                                "copied, %zu more asked for)",
                                total, r->bytes);
            return tf_cuda_check(err, "uploading the weights");
        }
        total += r->bytes;
    }
    /* a pageable copy may return before its DMA lands: done before any kernel reads it */
    const tinfer_status status =
        tf_cuda_check((int)cudaDeviceSynchronize(), "uploading the weights");
    if (status != TINFER_OK) {
        tf_cuda_release_weights(w);
        return status;
    }
    *copy = w;
    return TINFER_OK;
}

void tf_cuda_use_weights(tf_backend *be, void *copy) {
    ((tf_cuda_state *)be->state)->weights = copy;
}

const void *tf_cuda_weight(const tf_cuda_state *s, const void *p, const char *what) {
    const tf_cuda_weights *w = s->weights;
    const uint8_t *at = p;
    for (size_t i = 0; w && i < w->n; i++)
        if (at >= w->host[i] && (size_t)(at - w->host[i]) < w->bytes[i])
            return w->dev[i] + (at - w->host[i]);
    tf_error(TINFER_E_DEVICE, "cuda backend: %s: a weight pointer outside the uploaded regions",
             what);
    return NULL;
}
