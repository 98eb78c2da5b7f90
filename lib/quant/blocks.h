/* The GGUF block formats, described once: one struct per format, field for field ggml's
 * block_q4_0 … block_q8_K (ggml-common.h), with its element count and its size checked here.
 *
 * Everything that reads a block — the reference dequantizers (dequant_*.c), the dtype table
 * (dtype.c) and the CPU dot products (backend/cpu/cpu_kernels_impl.h) — goes through these
 * fields and sizeof, never through byte offsets of its own.
 *
 * f16 fields hold the raw half-precision bits (tf_f16_to_f32 widens them). The structs are packed
 * (alignment 1): tensor data in a file is only as aligned as the file says, so a block may sit at
 * any address and every field read must be valid there. Multi-byte fields are read in host order;
 * GGUF is little-endian and so must the host be (checked below). */
#ifndef TINFER_QUANT_BLOCKS_H
#define TINFER_QUANT_BLOCKS_H

#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tinfer reads GGUF blocks in place and needs a little-endian host"
#endif

#define TF_BLOCK __attribute__((packed))

/* Elements per block (ggml's QK4_0 … QK_K). */
enum {
    TF_QK4_0 = 32,
    TF_QK4_1 = 32,
    TF_QK5_0 = 32,
    TF_QK5_1 = 32,
    TF_QK8_0 = 32,
    TF_QK8_1 = 32,
    TF_QK_K = 256,       /* every k-quant super-block */
    TF_K_SCALE_SIZE = 12 /* Q4_K/Q5_K: 8 scales and 8 mins of 6 bits (kquant_scales.h) */
};

/* ---- 32-element formats: element j < 16 is the low nibble of qs[j], j + 16 its high nibble ----
 */

typedef struct TF_BLOCK tf_block_q4_0 { /* x = d·(q − 8) */
    uint16_t d;
    uint8_t qs[TF_QK4_0 / 2];
} tf_block_q4_0;

typedef struct TF_BLOCK tf_block_q4_1 { /* x = d·q + m */
    uint16_t d, m;
    uint8_t qs[TF_QK4_1 / 2];
} tf_block_q4_1;

typedef struct TF_BLOCK tf_block_q5_0 { /* x = d·(q − 16); bit j of the u32 qh is bit 4 of q_j */
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[TF_QK5_0 / 2];
} tf_block_q5_0;

typedef struct TF_BLOCK tf_block_q5_1 { /* x = d·q + m */
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[TF_QK5_1 / 2];
} tf_block_q5_1;

typedef struct TF_BLOCK tf_block_q8_0 { /* x = d·q */
    uint16_t d;
    int8_t qs[TF_QK8_0];
} tf_block_q8_0;

typedef struct TF_BLOCK tf_block_q8_1 { /* x = d·q; s = d·Σq */
    uint16_t d, s;
    int8_t qs[TF_QK8_1];
} tf_block_q8_1;

/* ---- 256-element super-blocks (dequant_kquants.c spells out how each packs its codes) ---- */

typedef struct TF_BLOCK tf_block_q2_k {
    uint8_t scales[TF_QK_K / 16]; /* per 16 elements: low nibble scale, high nibble min */
    uint8_t qs[TF_QK_K / 4];      /* 2-bit codes */
    uint16_t d, dmin;
} tf_block_q2_k;

typedef struct TF_BLOCK tf_block_q3_k {
    uint8_t hmask[TF_QK_K / 8]; /* the third bit of each code, clear meaning −4 */
    uint8_t qs[TF_QK_K / 4];    /* the low 2 bits */
    uint8_t scales[12];         /* 16 signed 6-bit scales */
    uint16_t d;
} tf_block_q3_k;

typedef struct TF_BLOCK tf_block_q4_k {
    uint16_t d, dmin;
    uint8_t scales[TF_K_SCALE_SIZE];
    uint8_t qs[TF_QK_K / 2];
} tf_block_q4_k;

typedef struct TF_BLOCK tf_block_q5_k {
    uint16_t d, dmin;
    uint8_t scales[TF_K_SCALE_SIZE];
    uint8_t qh[TF_QK_K / 8]; /* the fifth bit of each code */
    uint8_t qs[TF_QK_K / 2];
} tf_block_q5_k;

typedef struct TF_BLOCK tf_block_q6_k {
    uint8_t ql[TF_QK_K / 2]; /* the low 4 bits */
    uint8_t qh[TF_QK_K / 4]; /* the high 2 bits */
    int8_t scales[TF_QK_K / 16];
    uint16_t d;
} tf_block_q6_k;

/* ggml's activation format for the k-quant dots (a plain float scale, not f16). */
typedef struct TF_BLOCK tf_block_q8_k {
    float d;
    int8_t qs[TF_QK_K];
    int16_t bsums[TF_QK_K / 16]; /* sums of each 16 consecutive qs */
} tf_block_q8_k;

#undef TF_BLOCK

/* The sizes ggml's own static_asserts pin: a field added or resized here fails the build. */
_Static_assert(sizeof(tf_block_q4_0) == 18, "block_q4_0 is 18 bytes");
_Static_assert(sizeof(tf_block_q4_1) == 20, "block_q4_1 is 20 bytes");
_Static_assert(sizeof(tf_block_q5_0) == 22, "block_q5_0 is 22 bytes");
_Static_assert(sizeof(tf_block_q5_1) == 24, "block_q5_1 is 24 bytes");
_Static_assert(sizeof(tf_block_q8_0) == 34, "block_q8_0 is 34 bytes");
_Static_assert(sizeof(tf_block_q8_1) == 36, "block_q8_1 is 36 bytes");
_Static_assert(sizeof(tf_block_q2_k) == 84, "block_q2_K is 84 bytes");
_Static_assert(sizeof(tf_block_q3_k) == 110, "block_q3_K is 110 bytes");
_Static_assert(sizeof(tf_block_q4_k) == 144, "block_q4_K is 144 bytes");
_Static_assert(sizeof(tf_block_q5_k) == 176, "block_q5_K is 176 bytes");
_Static_assert(sizeof(tf_block_q6_k) == 210, "block_q6_K is 210 bytes");
_Static_assert(sizeof(tf_block_q8_k) == 292, "block_q8_K is 292 bytes");

#endif
