/* The CPU's packed copy of a model's Q5_0 and Q8_0 matrices (see cpu_packed.h). */
#include "backend/cpu/cpu_packed.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/cpu/cpu_ops.h"
#include "core/checked.h"
#include "core/error.h"
#include "quant/blocks.h"

typedef struct packed_matrix {
    tf_matrix source; /* the file's rows */
    const uint8_t *tiles;
} packed_matrix;

struct tf_cpu_packed {
    unsigned packs; /* the layouts (TF_PACKS_*): those of the table it was made for */
    tf_huge_buf storage;
    packed_matrix *matrices; /* [n], in increasing source address */
    size_t n;
};

/* ---- the layouts (cpu_kernels.h) ---- */

static void pack_q8_0_tile(const uint8_t *rows, size_t row_bytes, uint32_t n_blocks,
                           tf_packed_q8_0 *out) {
    for (uint32_t r = 0; r < TF_QGEMM_ROWS; r++) {
        const tf_block_q8_0 *src = (const tf_block_q8_0 *)(rows + r * row_bytes);
        for (uint32_t b = 0; b < n_blocks; b++) {
            out[b].d[r] = src[b].d;
            for (int j = 0; j < 8; j++)
                for (int i = 0; i < 4; i++)
                    out[b].codes[j][4 * r + i] = (uint8_t)((uint8_t)src[b].qs[4 * j + i] ^ 0x80u);
        }
    }
}

/* Element e's unsigned code (0..31) of a file block whose fifth bits are qh. */
static uint8_t q5_0_code(const tf_block_q5_0 *block, uint32_t qh, int e) {
    const uint8_t nibble = e < 16 ? block->qs[e] & 0x0F : block->qs[e - 16] >> 4;
    return (uint8_t)(nibble | (qh >> e & 1u) << 4);
}

/* The inverse of q5_0_code: element e's code into a block whose qs start zeroed, its fifth bit
 * into *qh. */
static void q5_0_set_code(tf_block_q5_0 *block, uint32_t *qh, int e, uint8_t code) {
    block->qs[e % 16] |= (uint8_t)((code & 0x0Fu) << (e < 16 ? 0 : 4));
    *qh |= (uint32_t)(code >> 4) << e;
}

/* TF_PACKS_Q5_0: row r's qs bytes as they are, its fifth bits (qh) into the words. */
static void put_q5_0_words(tf_packed_q5_0 *p, uint32_t r, const tf_block_q5_0 *src, uint32_t qh) {
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 4; i++) {
            p->qs[k][4 * r + i] = src->qs[4 * k + i];
            p->qh[k] |= (uint64_t)(qh >> (4 * k + i) & 1u) << (4 * r + i);
            p->qh[k + 4] |= (uint64_t)(qh >> (16 + 4 * k + i) & 1u) << (4 * r + i);
        }
}

/* TF_PACKS_Q5_0_AVX2: row r's codes, element 4k + i's with three bits of 16 + 4k + i's, the
 * latter's top two bits into tops. */
static void put_q5_0_codes(tf_packed_q5_0 *p, uint32_t r, const tf_block_q5_0 *src, uint32_t qh) {
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 4; i++) {
            const uint8_t lo = q5_0_code(src, qh, 4 * k + i),
                          hi = q5_0_code(src, qh, 16 + 4 * k + i);
            p->codes[k][4 * r + i] = (uint8_t)(lo | (hi & 7u) << 5);
            p->tops[r / 8][4 * (r % 8) + i] |= (uint8_t)((hi >> 3) << (2 * k));
        }
}

/* Row r of a file block into packed block p (whose fifth bits, or tops, start zeroed), in the
 * layout of avx2 (TF_PACKS_Q5_0_AVX2) or not (TF_PACKS_Q5_0). */
static void put_q5_0_row(tf_packed_q5_0 *p, uint32_t r, const tf_block_q5_0 *src, bool avx2) {
    uint32_t qh;
    memcpy(&qh, src->qh, sizeof qh);
    p->d[r] = src->d;
    if (avx2) put_q5_0_codes(p, r, src, qh);
    else put_q5_0_words(p, r, src, qh);
}

/* The inverse of put_q5_0_row: row r of packed block p as the file's block. */
static void get_q5_0_row(const tf_packed_q5_0 *p, uint32_t r, tf_block_q5_0 *dst, bool avx2) {
    uint32_t qh = 0;
    dst->d = p->d[r];
    memset(dst->qs, 0, sizeof dst->qs); /* the codes are or-ed in */
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 4; i++) {
            const int e = 4 * k + i;
            if (avx2) {
                const uint8_t byte = p->codes[k][4 * r + i];
                const uint8_t top = p->tops[r / 8][4 * (r % 8) + i] >> (2 * k) & 3u;
                q5_0_set_code(dst, &qh, e, byte & 0x1F);
                q5_0_set_code(dst, &qh, 16 + e, (uint8_t)(byte >> 5 | top << 3));
            } else {
                dst->qs[e] = p->qs[k][4 * r + i];
                qh |= (uint32_t)(p->qh[k] >> (4 * r + i) & 1u) << e;
                qh |= (uint32_t)(p->qh[k + 4] >> (4 * r + i) & 1u) << (16 + e);
            }
        }
    memcpy(dst->qh, &qh, sizeof qh);
}

static void pack_q5_0_tile(const uint8_t *rows, size_t row_bytes, uint32_t n_blocks, bool avx2,
                           tf_packed_q5_0 *out) {
    memset(out, 0, n_blocks * sizeof *out); /* the fifth bits and tops are or-ed in */
    for (uint32_t r = 0; r < TF_QGEMM_ROWS; r++) {
        const tf_block_q5_0 *src = (const tf_block_q5_0 *)(rows + r * row_bytes);
        for (uint32_t b = 0; b < n_blocks; b++) put_q5_0_row(&out[b], r, &src[b], avx2);
    }
}

static void pack_q4_k_tile(const uint8_t *rows, size_t row_bytes, uint32_t n_blocks,
                           tf_packed_q4_k *out) {
    for (uint32_t r = 0; r < TF_QGEMM_ROWS; r++) {
        const tf_block_q4_k *src = (const tf_block_q4_k *)(rows + r * row_bytes);
        for (uint32_t b = 0; b < n_blocks; b++) {
            for (int g = 0; g < 4; g++)
                for (int j = 0; j < 8; j++)
                    memcpy(&out[b].qs[g][j][4 * r], src[b].qs + 32 * g + 4 * j, 4);
            memcpy(&out[b].head[0][4 * r], &src[b].d, 2);
            memcpy(&out[b].head[0][4 * r + 2], &src[b].dmin, 2);
            for (int i = 0; i < 3; i++)
                memcpy(&out[b].head[1 + i][4 * r], src[b].scales + 4 * i, 4);
        }
    }
}

void tf_cpu_pack_tiles(unsigned packs, tinfer_dtype dtype, const uint8_t *rows, size_t row_bytes,
                       uint32_t n_blocks, size_t n_tiles, uint8_t *out) {
    const size_t tile_bytes = TF_QGEMM_ROWS * row_bytes; /* packed or not */
    for (size_t i = 0; i < n_tiles; i++) {
        const uint8_t *tile_rows = rows + i * tile_bytes;
        void *tile_out = out + i * tile_bytes;
        if (dtype == TINFER_DTYPE_Q8_0) pack_q8_0_tile(tile_rows, row_bytes, n_blocks, tile_out);
        else if (dtype == TINFER_DTYPE_Q5_0)
            pack_q5_0_tile(tile_rows, row_bytes, n_blocks, (packs & TF_PACKS_Q5_0_AVX2) != 0,
                           tile_out);
        else pack_q4_k_tile(tile_rows, row_bytes, n_blocks, tile_out);
    }
}

/* The inverse of pack_*_tile for row r of a tile (lane r): the file's bytes of that row. */
static void unpack_row(unsigned packs, tinfer_dtype dtype, const uint8_t *tile, uint32_t r,
                       uint32_t n_blocks, uint8_t *row) {
    for (uint32_t b = 0; b < n_blocks; b++) {
        if (dtype == TINFER_DTYPE_Q8_0) {
            const tf_packed_q8_0 *p = (const tf_packed_q8_0 *)tile + b;
            tf_block_q8_0 *dst = (tf_block_q8_0 *)row + b;
            dst->d = p->d[r];
            for (int j = 0; j < 8; j++)
                for (int i = 0; i < 4; i++)
                    dst->qs[4 * j + i] = (int8_t)(p->codes[j][4 * r + i] ^ 0x80u);
        } else if (dtype == TINFER_DTYPE_Q5_0) {
            get_q5_0_row((const tf_packed_q5_0 *)tile + b, r, (tf_block_q5_0 *)row + b,
                         (packs & TF_PACKS_Q5_0_AVX2) != 0);
        } else {
            const tf_packed_q4_k *p = (const tf_packed_q4_k *)tile + b;
            tf_block_q4_k *dst = (tf_block_q4_k *)row + b;
            for (int g = 0; g < 4; g++)
                for (int j = 0; j < 8; j++)
                    memcpy(dst->qs + 32 * g + 4 * j, &p->qs[g][j][4 * r], 4);
            memcpy(&dst->d, &p->head[0][4 * r], 2);
            memcpy(&dst->dmin, &p->head[0][4 * r + 2], 2);
            for (int i = 0; i < 3; i++) memcpy(dst->scales + 4 * i, &p->head[1 + i][4 * r], 4);
        }
    }
}

/* Elements per block of a dtype cpu_packed packs. */
static uint32_t block_elems(tinfer_dtype dtype) { return dtype == TINFER_DTYPE_Q4_K ? 256 : 32; }

/* ---- the copy ---- */

static bool eligible(const tf_weight_matrix *w, unsigned packs) {
    const tf_matrix *m = &w->matrix;
    return w->in_mapping && tf_cpu_packs_dtype(packs, m->dtype) && m->n_rows > 0 &&
           m->n_rows % TF_QGEMM_ROWS == 0 && m->row_elems > 0 &&
           m->row_elems % block_elems(m->dtype) == 0;
}

static int by_source(const void *a, const void *b) {
    const uintptr_t x = (uintptr_t)((const packed_matrix *)a)->source.data;
    const uintptr_t y = (uintptr_t)((const packed_matrix *)b)->source.data;
    return x < y ? -1 : x > y;
}

/* A part of one matrix packed by one task: about 2 MiB of rows, whose pages are released as soon
 * as they are packed, so that memory holds little of both layouts at any time. */
typedef struct pack_part {
    const packed_matrix *matrix;
    size_t first_tile, n_tiles;
} pack_part;

enum { PART_BYTES = 2u << 20 };

typedef struct pack_job {
    unsigned packs;
    const pack_part *parts;
    size_t page;
} pack_job;

/* Releases the whole pages inside [begin, end): nothing another part reads. */
static void release_pages(const uint8_t *begin, const uint8_t *end, size_t page) {
    const uintptr_t first = ((uintptr_t)begin + page - 1) / page * page;
    const uintptr_t last = (uintptr_t)end / page * page;
    if (last > first) (void)madvise((void *)first, last - first, MADV_DONTNEED);
}

static void pack_parts(void *arg, size_t i0, size_t i1, uint32_t thread) {
    (void)thread;
    const pack_job *job = arg;
    for (size_t i = i0; i < i1; i++) {
        const pack_part *part = &job->parts[i];
        const tf_matrix *m = &part->matrix->source;
        const uint32_t n_blocks = m->row_elems / block_elems(m->dtype);
        const size_t tile_bytes = TF_QGEMM_ROWS * m->row_bytes; /* packed or not */
        const uint8_t *rows = m->data + part->first_tile * tile_bytes;
        uint8_t *out = (uint8_t *)part->matrix->tiles + part->first_tile * tile_bytes;
        tf_cpu_pack_tiles(job->packs, m->dtype, rows, m->row_bytes, n_blocks, part->n_tiles, out);
        release_pages(rows, rows + part->n_tiles * tile_bytes, job->page);
    }
}

/* Tiles of m per part: about PART_BYTES, at least one. */
static size_t tiles_per_part(const tf_matrix *m) {
    const size_t per_part = PART_BYTES / (TF_QGEMM_ROWS * m->row_bytes);
    return per_part ? per_part : 1;
}

/* The parts of every matrix of p, NULL when out of memory; *n_parts their count. */
static pack_part *plan_parts(const tf_cpu_packed *p, size_t *n_parts) {
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        const size_t per_part = tiles_per_part(&p->matrices[i].source);
        n += (p->matrices[i].source.n_rows / TF_QGEMM_ROWS + per_part - 1) / per_part;
    }
    pack_part *parts = calloc(n ? n : 1, sizeof *parts);
    if (!parts) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        const size_t per_part = tiles_per_part(&p->matrices[i].source);
        const size_t n_tiles = p->matrices[i].source.n_rows / TF_QGEMM_ROWS;
        for (size_t t = 0; t < n_tiles; t += per_part)
            parts[k++] = (pack_part){.matrix = &p->matrices[i],
                                     .first_tile = t,
                                     .n_tiles = n_tiles - t < per_part ? n_tiles - t : per_part};
    }
    *n_parts = n;
    return parts;
}

/* p's matrices (the eligible ones of weights, once each, sorted) and their places in storage. */
static tinfer_status lay_out(tf_cpu_packed *p, const tf_weight_regions *weights) {
    p->matrices = calloc(weights->n_matrices ? weights->n_matrices : 1, sizeof *p->matrices);
    if (!p->matrices) return tf_error(TINFER_E_NOMEM, "cpu backend: out of memory for packing");
    for (size_t i = 0; i < weights->n_matrices; i++)
        if (eligible(&weights->matrices[i], p->packs))
            p->matrices[p->n++] = (packed_matrix){.source = weights->matrices[i].matrix};
    qsort(p->matrices, p->n, sizeof *p->matrices, by_source);
    size_t total = 0;
    bool sizes_ok = true;
    for (size_t i = 0; i < p->n && sizes_ok; i++) {
        size_t bytes = 0;
        const tf_matrix *m = &p->matrices[i].source;
        sizes_ok = tinfer_mul_size(m->n_rows, m->row_bytes, &bytes) && bytes <= SIZE_MAX - 63 &&
                   tinfer_add_size(total, (bytes + 63) / 64 * 64, &total);
    }
    if (!sizes_ok) return tf_error(TINFER_E_INVALID_ARG, "cpu backend: packed size overflows");
    if (p->n == 0) return TINFER_OK;
    if (!tf_huge_alloc(total, &p->storage))
        return tf_error(TINFER_E_NOMEM, "cpu backend: out of memory for %zu bytes of packed rows",
                        total);
    size_t at = 0;
    for (size_t i = 0; i < p->n; i++) {
        const tf_matrix *m = &p->matrices[i].source;
        p->matrices[i].tiles = p->storage.data + at;
        at += ((size_t)m->n_rows * m->row_bytes + 63) / 64 * 64;
    }
    return TINFER_OK;
}

tinfer_status tf_cpu_pack_weights(tf_backend *be, const tf_weight_regions *weights, void **copy) {
    const tf_cpu_state *state = be->state;
    tf_cpu_packed *p = calloc(1, sizeof *p);
    if (!p) return tf_error(TINFER_E_NOMEM, "cpu backend: out of memory for packing");
    /* Whether this CPU's best table reads packed rows, not this context's: a context that asked
     * for another table (TINFER_CPU) must not leave later ones on this model without the copy. */
    p->packs = tf_cpu_kernels_for(TF_CPU_PATH_AUTO)->packs;
    tinfer_status status = TINFER_OK;
    if (p->packs) status = lay_out(p, weights);
    size_t n_parts = 0;
    pack_part *parts = status == TINFER_OK && p->n ? plan_parts(p, &n_parts) : NULL;
    if (status == TINFER_OK && p->n && !parts)
        status = tf_error(TINFER_E_NOMEM, "cpu backend: out of memory for packing");
    if (status != TINFER_OK) {
        tf_cpu_packed_free(p);
        return status;
    }
    const long page = sysconf(_SC_PAGESIZE);
    pack_job job = {.packs = p->packs, .parts = parts, .page = page > 0 ? (size_t)page : 4096};
    if (n_parts) tf_cpu_for(state, n_parts, 1, pack_parts, &job);
    free(parts);
    *copy = p;
    return TINFER_OK;
}

void tf_cpu_packed_free(void *copy) {
    tf_cpu_packed *p = copy;
    if (!p) return;
    tf_huge_free(&p->storage);
    free(p->matrices);
    free(p);
}

void tf_cpu_use_packed(tf_backend *be, void *copy) {
    tf_cpu_state *state = be->state;
    /* A table that reads other layouts or none (another TINFER_CPU than the context that packed)
     * keeps reading the file's. */
    const tf_cpu_packed *p = copy;
    state->packed = p && p->packs && p->packs == state->kernels->packs ? copy : NULL;
}

const uint8_t *tf_cpu_packed_rows(const tf_cpu_packed *p, const tf_matrix *w) {
    if (!p || p->n == 0) return NULL;
    size_t lo = 0, hi = p->n;
    while (lo < hi) { /* the first matrix at or above w's bytes */
        const size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)p->matrices[mid].source.data < (uintptr_t)w->data) lo = mid + 1;
        else hi = mid;
    }
    if (lo == p->n) return NULL;
    const tf_matrix *m = &p->matrices[lo].source;
    const bool same = m->data == w->data && m->dtype == w->dtype && m->n_rows == w->n_rows &&
                      m->row_elems == w->row_elems && m->row_bytes == w->row_bytes;
    return same ? p->matrices[lo].tiles : NULL;
}

void tf_cpu_packed_row(unsigned packs, const uint8_t *tiles, const tf_matrix *w, uint32_t row,
                       uint8_t *out) {
    const uint32_t n_blocks = w->row_elems / block_elems(w->dtype);
    const size_t tile_bytes = TF_QGEMM_ROWS * w->row_bytes;
    unpack_row(packs, w->dtype, tiles + row / TF_QGEMM_ROWS * tile_bytes, row % TF_QGEMM_ROWS,
               n_blocks, out);
}
