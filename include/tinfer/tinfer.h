/*
 * libtinfer — large-language-model inference behind a small, stable C ABI.
 *
 * This is the only header a program includes. Rules that hold for every function below:
 *  - Every function that can fail returns a tinfer_status; results come back through pointer
 *    arguments, which are written only on success.
 *  - After a failure, tinfer_last_error() gives a one-line explanation for the calling thread.
 *  - The caller owns what it passes in. Objects created by tinfer_*_load/create are released
 *    with the matching *_free, which accepts NULL.
 *  - Structs travel with their size, so a program built against an older header keeps working
 *    with a newer library of the same ABI:
 *      params: tinfer_X_params_init(&p, sizeof p) fills the defaults, the program edits the fields
 *        it cares about, and the create/load call takes (&p, sizeof p). The library copies the
 *        fields the program knows over its own defaults: fields added later keep their defaults.
 *        A size that no version of the struct has is TINFER_E_INVALID_ARG; a larger struct from
 *        a newer header is accepted when its extra fields are zero, else TINFER_E_UNSUPPORTED.
 *      info: the caller states the size of its buffer; the library writes what fits and zeroes
 *        the rest.
 *      arrays of public structs (tinfer_chat_msg) travel with their stride, sizeof the element.
 *    New fields are only ever added at the end.
 *  - Same major version = same ABI (the shared library's SONAME carries the major version), and a
 *    newer minor only adds: a program built against 0.N runs with any later 0.M library. Before
 *    1.0 this holds from 0.2 on: 0.2 changed the layout (params with sizes, the chat-message
 *    stride, the experimental section), 0.0 and 0.1 programs need a rebuild. 0.3 added functions,
 *    a header and fields at the ends of structs, nothing else.
 *  - Every declaration says the version that added it ("Since 0.1"). What may still change between
 *    minor versions is kept apart in tinfer/experimental.h, visible only to programs that define
 *    TINFER_EXPERIMENTAL before including this header.
 */
#ifndef TINFER_TINFER_H
#define TINFER_TINFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TINFER_STATIC_DEFINE)
#define TINFER_API
#elif defined(_WIN32)
#if defined(TINFER_BUILDING_LIBRARY)
#define TINFER_API __declspec(dllexport)
#else
#define TINFER_API __declspec(dllimport)
#endif
#else
#define TINFER_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------------------------------------
 * Version. These three lines are the one place the version is written: CMake reads them for the
 * project version (the shared library's file name, tinfer.pc, tinferConfigVersion.cmake), and the
 * Python binding's version is checked against them. Since 0.1.
 * ------------------------------------------------------------------------------------------- */
#define TINFER_VERSION_MAJOR 0
#define TINFER_VERSION_MINOR 3
#define TINFER_VERSION_PATCH 0
#define TINFER_VERSION_NUMBER \
    (TINFER_VERSION_MAJOR * 10000 + TINFER_VERSION_MINOR * 100 + TINFER_VERSION_PATCH)

/* The version of the library actually loaded (compare with TINFER_VERSION_NUMBER). Since 0.1. */
TINFER_API int tinfer_version_number(void);
/* The same as "MAJOR.MINOR.PATCH"; a static string. Since 0.1. */
TINFER_API const char *tinfer_version_string(void);

/* ---------------------------------------------------------------------------------------------
 * Status codes and errors. Values are pinned and never reused. Since 0.1.
 * ------------------------------------------------------------------------------------------- */
#define TINFER_STATUS_MAP(X)      \
    X(OK, 0)                      \
    X(E_INVALID_ARG, 1)           \
    X(E_IO, 2)                    \
    X(E_FORMAT, 3)                \
    X(E_UNSUPPORTED, 4)           \
    X(E_NOMEM, 5)                 \
    X(E_BUFFER_TOO_SMALL, 6)      \
    X(E_CONTEXT_FULL, 7)          \
    X(E_DEVICE, 8)                \
    X(E_NOT_FOUND, 9)             \
    X(E_TYPE, 10)                 \
    X(E_ABORTED, 11)

/* The status every fallible function returns. Since 0.1. */
typedef enum tinfer_status {
#define TINFER_STATUS_ENUM_(name, value) TINFER_##name = value,
    TINFER_STATUS_MAP(TINFER_STATUS_ENUM_)
#undef TINFER_STATUS_ENUM_
} tinfer_status;

/* The name of a status ("TINFER_E_FORMAT"); "TINFER_E_UNKNOWN" for values not in the map.
 * Since 0.1. */
TINFER_API const char *tinfer_status_str(tinfer_status status);
/* Detail of the last failure on the calling thread; "" if none. Valid until the next call into
 * the library from this thread. Never NULL. Since 0.1. */
TINFER_API const char *tinfer_last_error(void);

/* ---------------------------------------------------------------------------------------------
 * Element types of tensors. Values are the GGUF/GGML type ids, so a GGUF file's ids map 1:1.
 * Since 0.1.
 * ------------------------------------------------------------------------------------------- */
typedef enum tinfer_dtype {
    TINFER_DTYPE_F32 = 0,
    TINFER_DTYPE_F16 = 1,
    TINFER_DTYPE_Q4_0 = 2,
    TINFER_DTYPE_Q4_1 = 3,
    TINFER_DTYPE_Q5_0 = 6,
    TINFER_DTYPE_Q5_1 = 7,
    TINFER_DTYPE_Q8_0 = 8,
    TINFER_DTYPE_Q8_1 = 9,
    TINFER_DTYPE_Q2_K = 10,
    TINFER_DTYPE_Q3_K = 11,
    TINFER_DTYPE_Q4_K = 12,
    TINFER_DTYPE_Q5_K = 13,
    TINFER_DTYPE_Q6_K = 14,
    TINFER_DTYPE_Q8_K = 15,
    TINFER_DTYPE_I8 = 24,
    TINFER_DTYPE_I16 = 25,
    TINFER_DTYPE_I32 = 26,
    TINFER_DTYPE_I64 = 27,
    TINFER_DTYPE_F64 = 28,
    TINFER_DTYPE_BF16 = 30
} tinfer_dtype;

/* "F32", "Q4_K", …; NULL for a value that is not a known dtype. Since 0.1. */
TINFER_API const char *tinfer_dtype_name(tinfer_dtype dtype);

/* ---------------------------------------------------------------------------------------------
 * Model: a .gguf file, a .safetensors file, or a Hugging Face directory (config.json +
 * *.safetensors, sharded through model.safetensors.index.json). Immutable once loaded; one model
 * may be shared by any number of threads. Since 0.1.
 * ------------------------------------------------------------------------------------------- */
typedef struct tinfer_model tinfer_model;

/* Options of tinfer_model_load; fill with tinfer_model_params_init. Since 0.1. */
typedef struct tinfer_model_params {
    bool use_mmap; /* map files read-only and use tensors in place (default true); false reads
                      the files into memory. Since 0.1 */
} tinfer_model_params;

/* Writes the defaults into the first size bytes of *params (pass sizeof *params): every field
 * that fits whole, zero elsewhere; nothing past size. NULL is a no-op. Since 0.2. */
TINFER_API void tinfer_model_params_init(tinfer_model_params *params, size_t size);

/* Loads a model. params may be NULL (defaults; params_size is then ignored), else params_size is
 * sizeof *params (see the struct rules at the top). On success *out owns the model; free it with
 * tinfer_model_free. Untrusted files are validated before use: a malformed file gives
 * TINFER_E_FORMAT (or E_UNSUPPORTED) and a message naming the field. Since 0.1 (params_size
 * since 0.2). */
TINFER_API tinfer_status tinfer_model_load(const char *path, const tinfer_model_params *params,
                                           size_t params_size, tinfer_model **out);
/* Releases a model; NULL is a no-op. Since 0.1. */
TINFER_API void tinfer_model_free(tinfer_model *model);

/* Since 0.1. */
typedef enum tinfer_file_format {
    TINFER_FORMAT_GGUF = 1,
    TINFER_FORMAT_SAFETENSORS = 2
} tinfer_file_format;

/* Architecture and hyper-parameters. Fields a model lacks are 0. Strings are owned by the model.
 * Since 0.1. */
typedef struct tinfer_model_info {
    const char *architecture;   /* "gemma3", "llama", "qwen2", "qwen3", or the file's own name */
    const char *name;           /* general.name, or "" */
    tinfer_file_format format;  /* the container the weights came from */
    uint32_t gguf_version;      /* 2 or 3 for GGUF, else 0 */
    uint64_t n_tensors;         /* entries in the tensor table */
    uint64_t n_params;          /* sum of tensor element counts */
    uint64_t weight_bytes;      /* sum of tensor data sizes */
    uint32_t n_vocab;           /* tokenizer vocabulary size, or 0 when the file carries none */
    uint32_t n_ctx_train;       /* training context length */
    uint32_t n_embd;            /* model width */
    uint32_t n_layer;           /* transformer blocks */
    uint32_t n_head;            /* query heads */
    uint32_t n_head_kv;         /* key/value heads (GQA when < n_head) */
    uint32_t head_dim;          /* key (and query) width per head */
    uint32_t head_dim_v;        /* value width per head */
    uint32_t n_ff;              /* feed-forward hidden width */
    uint32_t sliding_window;    /* window of local-attention layers, 0 if none */
    float rms_norm_eps;         /* epsilon of RMSNorm */
    float rope_freq_base;       /* RoPE base of global layers */
    float rope_freq_base_local; /* RoPE base of sliding-window layers (0 when same/none) */
} tinfer_model_info;

/* Fills *out with at most out_size bytes (pass sizeof(tinfer_model_info)); bytes past this
 * library's struct are zeroed (since 0.2). Since 0.1. */
TINFER_API tinfer_status tinfer_model_get_info(const tinfer_model *model, tinfer_model_info *out,
                                               size_t out_size);

/* ---- Metadata: GGUF key/values, or safetensors __metadata__ and config.json (mapped onto the
 * GGUF key names, e.g. "llama.embedding_length"). ---- */
/* Since 0.1. */
typedef enum tinfer_meta_type {
    TINFER_META_U8 = 0,
    TINFER_META_I8 = 1,
    TINFER_META_U16 = 2,
    TINFER_META_I16 = 3,
    TINFER_META_U32 = 4,
    TINFER_META_I32 = 5,
    TINFER_META_F32 = 6,
    TINFER_META_BOOL = 7,
    TINFER_META_STRING = 8,
    TINFER_META_ARRAY = 9,
    TINFER_META_U64 = 10,
    TINFER_META_I64 = 11,
    TINFER_META_F64 = 12
} tinfer_meta_type;

/* Number of metadata entries. Since 0.1. */
TINFER_API size_t tinfer_model_meta_count(const tinfer_model *model);
/* Key of entry i (0 ≤ i < count); NULL when i is out of range. Owned by the model. Since 0.1. */
TINFER_API const char *tinfer_model_meta_key(const tinfer_model *model, size_t i);
/* Index of a key; TINFER_E_NOT_FOUND when absent. Since 0.1. */
TINFER_API tinfer_status tinfer_model_meta_find(const tinfer_model *model, const char *key,
                                                size_t *index);
/* Type of entry i; for arrays also the element type and the element count (either may be NULL).
 * Since 0.1. */
TINFER_API tinfer_status tinfer_model_meta_type(const tinfer_model *model, size_t i,
                                                tinfer_meta_type *type,
                                                tinfer_meta_type *elem_type, uint64_t *n_elems);
/* A string value, NUL-terminated and owned by the model; NULL when the key is absent or is not a
 * string. Since 0.1. */
TINFER_API const char *tinfer_model_meta_str(const tinfer_model *model, const char *key);
/* An integer value of any integer or bool type; TINFER_E_TYPE if it does not fit in int64.
 * Since 0.1. */
TINFER_API tinfer_status tinfer_model_meta_int(const tinfer_model *model, const char *key,
                                               int64_t *value);
/* A floating-point value (F32, F64, or any integer type converted). Since 0.1. */
TINFER_API tinfer_status tinfer_model_meta_float(const tinfer_model *model, const char *key,
                                                 double *value);
/* Element j of array entry i as text: numbers in decimal, strings as their bytes, a nested array
 * in full as "[a, b, …]". *len receives the bytes needed (excluding the
 * NUL); TINFER_E_BUFFER_TOO_SMALL if cap is not larger than that. Since 0.1. */
TINFER_API tinfer_status tinfer_model_meta_array_elem(const tinfer_model *model, size_t i,
                                                      uint64_t j, char *buf, size_t cap,
                                                      size_t *len);
/* Entry i rendered as text (arrays longer than max_elems shortened with "…"), NUL-terminated.
 * Same buffer rules as tinfer_model_meta_array_elem. Since 0.1. */
TINFER_API tinfer_status tinfer_model_meta_format(const tinfer_model *model, size_t i,
                                                  size_t max_elems, char *buf, size_t cap,
                                                  size_t *len);

/* ---- Tensor table: one view over every format. ---- */
#define TINFER_MAX_DIMS 4

/* One tensor, as tinfer_model_tensor gives it. Since 0.1. */
typedef struct tinfer_tensor_info {
    const char *name;                /* owned by the model */
    tinfer_dtype dtype;
    uint32_t n_dims;                 /* 1..TINFER_MAX_DIMS (a safetensors scalar: shape [1]) */
    int64_t shape[TINFER_MAX_DIMS];  /* row-major, outermost first (as numpy and PyTorch);
                                        shape[n_dims-1] is the contiguous row length. GGUF's
                                        ne[] is this reversed. */
    uint64_t n_elements;
    uint64_t n_bytes;                /* size of the data */
    uint64_t file_offset;            /* byte offset of the data within its file */
    const void *data;                /* the bytes, valid as long as the model */
} tinfer_tensor_info;

/* Number of tensors. Since 0.1. */
TINFER_API size_t tinfer_model_tensor_count(const tinfer_model *model);
/* Tensor i, written into at most out_size bytes of *out (pass sizeof(tinfer_tensor_info)); bytes
 * past this library's struct are zeroed (since 0.2). Since 0.1. */
TINFER_API tinfer_status tinfer_model_tensor(const tinfer_model *model, size_t i,
                                             tinfer_tensor_info *out, size_t out_size);
/* Index of the tensor with this name; TINFER_E_NOT_FOUND when absent. Since 0.1. */
TINFER_API tinfer_status tinfer_model_tensor_find(const tinfer_model *model, const char *name,
                                                  size_t *index);

/* ---------------------------------------------------------------------------------------------
 * Backends. Since 0.1.
 * ------------------------------------------------------------------------------------------- */
/* True when this library was built with the CUDA backend. Since 0.1. */
TINFER_API bool tinfer_has_cuda(void);
/* Number of CUDA devices usable now (0 without a GPU or without CUDA support). Never fails.
 * Since 0.1. */
TINFER_API int tinfer_cuda_device_count(void);
/* The CPU kernel build contexts created now use: "avx512" (AVX-512 F/BW/VL and VNNI),
 * "x86-64-v3" (AVX2, FMA, F16C) or "generic" (portable C) — by default the fastest this CPU
 * supports; the environment variable TINFER_CPU=generic|avx2|avx512 asks for one (or the best
 * supported below it) and TINFER_FORCE_GENERIC=1 forces "generic". All give bit-identical
 * results. A static string; never fails. Since 0.1. */
TINFER_API const char *tinfer_cpu_kernels(void);

/* The rest of the API, in one header per stage (each is included here, never alone). */
#include "tinfer/tokenizer.h"
#include "tinfer/sampler.h"
#include "tinfer/context.h"
#include "tinfer/snapshot.h"

/* What may still change between minor versions (benchmarking and profiling helpers): only for
 * programs that define TINFER_EXPERIMENTAL. The library always exports these functions. */
#ifdef TINFER_EXPERIMENTAL
#include "tinfer/experimental.h"
#endif

#ifdef __cplusplus
}
#endif
#endif /* TINFER_TINFER_H */
