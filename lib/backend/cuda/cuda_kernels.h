/* The CUDA kernels' launchers, callable from C (the backend, the tests). Each enqueues its work
 * on stream (a cudaStream_t; NULL is the default stream) and returns the launch's cudaError_t as
 * an int (0: enqueued), or TFC_E_DTYPE for a weight dtype it has no kernel for. Pointers are
 * device memory. Built only with CUDA (TINFER_HAVE_CUDA). */
#ifndef TINFER_BACKEND_CUDA_CUDA_KERNELS_H
#define TINFER_BACKEND_CUDA_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { TFC_E_DTYPE = -1 };

/* y[t][r] = Σ_e w[r][e] · x[t][e] for r < n_rows, t < n_tokens: w has n_rows rows of n_cols
 * elements of dtype (a tinfer_dtype cuda_quant.h decodes), row_bytes apart, in the file's bytes;
 * x is [n_tokens][n_cols] and y [n_tokens][n_rows] float32. One warp a row, float32 sums. */
int tfc_matvec(int dtype, const void *w, size_t row_bytes, uint32_t n_rows, uint32_t n_cols,
               const float *x, uint32_t n_tokens, float *y, void *stream);

#ifdef __cplusplus
}
#endif
#endif
