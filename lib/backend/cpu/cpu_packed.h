/* The CPU's own copy of a model's Q5_0, Q8_0 and Q4_K matrices, laid out as the row tiles read
 * them (tf_packed_q5_0 / _q8_0 / _q4_k, cpu_kernels.h).
 *
 * Why: one token's product with a Q5_0, Q8_0 or Q4_K matrix, row by row, is bound by each row's
 * chain of ggml's float steps (for Q5_0 about half the memory bandwidth of this machine's two
 * cores, for Q4_K a third);
 * sixteen rows in the sixteen lanes run sixteen chains at once, the same bits. Unpacking sixteen
 * file rows into a tile on every call pays only for several tokens (prompts); packed once at load,
 * a single decode token takes the tiles too.
 *
 * The copy is made by the first CPU context on a model, where this CPU's best kernel table reads
 * packed rows (tf_cpu_kernels.packs: the AVX-512 VNNI one its Q5_0, Q8_0 and Q4_K matrices, the
 * x86-64-v3 one its Q5_0 ones, in a layout of its own), and kept by the model
 * (model/device_weights.c), shared by every later CPU context whose table reads it. It holds the
 * matrices that lie in a mapped model file, have whole tiles (rows a multiple of TF_QGEMM_ROWS)
 * and rows of whole blocks; as each part is packed, the file's pages under it are
 * released (madvise DONTNEED: they read back from the file if anything touches them again), so the
 * copy replaces those pages in memory instead of adding to them. A model read into memory
 * (use_mmap false) is not copied. */
#ifndef TINFER_BACKEND_CPU_CPU_PACKED_H
#define TINFER_BACKEND_CPU_CPU_PACKED_H

#include "backend/backend.h"

typedef struct tf_cpu_packed tf_cpu_packed;

/* tf_backend_ops.upload_weights: packs the eligible matrices of weights on be's threads (an
 * empty copy where no kernel table of this CPU reads packed rows). E_NOMEM; E_INVALID_ARG when
 * the sizes overflow. */
tinfer_status tf_cpu_pack_weights(tf_backend *be, const tf_weight_regions *weights, void **copy);
/* tf_backend_ops.release_weights. */
void tf_cpu_packed_free(void *copy);
/* tf_backend_ops.use_weights: be's products read packed rows from copy where it has them. */
void tf_cpu_use_packed(tf_backend *be, void *copy);

/* The packed rows of matrix w in p (all of them, from row 0), or NULL where p has none. */
const uint8_t *tf_cpu_packed_rows(const tf_cpu_packed *p, const tf_matrix *w);

/* Row `row` of matrix w, whose packed rows (in the layouts packs, TF_PACKS_*) are tiles, as the
 * file's bytes (w->row_bytes) into out: for reading one row (the embedding, when the output head
 * that shares its tensor is packed) without faulting the file's released pages back in. */
void tf_cpu_packed_row(unsigned packs, const uint8_t *tiles, const tf_matrix *w, uint32_t row,
                       uint8_t *out);

/* Packs n_tiles tiles of TF_QGEMM_ROWS rows of dtype (Q5_0, Q8_0 or Q4_K; row_bytes apart,
 * n_blocks blocks each) from rows into out (n_tiles · n_blocks packed blocks), in dtype's layout
 * of packs (TF_PACKS_*: Q5_0's fifth bits by halves where packs has TF_PACKS_Q5_0_AVX2). */
void tf_cpu_pack_tiles(unsigned packs, tinfer_dtype dtype, const uint8_t *rows, size_t row_bytes,
                       uint32_t n_blocks, size_t n_tiles, uint8_t *out);

#endif
