/* libtinfer context API: included by tinfer/tinfer.h; do not include it alone. */
#ifndef TINFER_CONTEXT_H
#define TINFER_CONTEXT_H
#ifndef TINFER_TINFER_H
#error "include tinfer/tinfer.h, not tinfer/context.h"
#endif

/* ---------------------------------------------------------------------------------------------
 * Context: the mutable half of inference — the KV cache of up to n_seq_max sequences, the
 * scratch activations and the logits — built over an immutable model. Since 0.1.
 *
 *  - A context is used by one thread at a time; any number of contexts may share one model, and
 *    the model must outlive every context made from it.
 *  - Everything is allocated by tinfer_context_create; prefill and decode never allocate.
 *  - Sequences are numbered 0 .. n_seq_max-1. Each holds up to n_ctx tokens, at positions
 *    0, 1, 2, … in the order they were given.
 *  - The cache keeps tokens in blocks of 32 from one pool shared by all sequences, sized by
 *    n_kv_tokens (default: room for every sequence to reach n_ctx). A fork
 *    (tinfer_kv_seq_copy) shares its source's blocks instead of copying them. Since 0.3.
 *  - A step that fails (bad argument, full context) leaves the cache and the logits as they were.
 *  - Filling the cache with random contents and per-op profiling are in tinfer/experimental.h.
 * ------------------------------------------------------------------------------------------- */
typedef struct tinfer_context tinfer_context;

/* Since 0.1. */
typedef enum tinfer_kv_dtype {
    TINFER_KV_F16 = 0, /* half the memory; what llama.cpp uses by default */
    TINFER_KV_F32 = 1, /* exact keys and values, twice the memory */
    TINFER_KV_Q8_0 = 2 /* blocks of 32 int8 with one float16 scale (llama.cpp's q8_0 cache
                          type): 53 % of F16's memory and bytes read per step, so the fastest
                          long contexts; other rounding than F16 (bounds in
                          doc/architecture.md). Head dimensions must be multiples of 32
                          (E_UNSUPPORTED otherwise); CPU only. Since 0.3 */
} tinfer_kv_dtype;

/* Where a context computes. Values are pinned. Since 0.2. */
typedef enum tinfer_device_kind {
    TINFER_DEVICE_CPU = 0, /* this machine's cores (the default; always available) */
    TINFER_DEVICE_CUDA = 1 /* an NVIDIA GPU: only in a build with the CUDA backend, on a machine
                              that has one; E_UNSUPPORTED otherwise */
} tinfer_device_kind;

/* How the CPU sums the output head, the largest matrix of a small model and the one whose float
 * work (not its bytes) bounds a step that decodes several sequences. Values are pinned.
 * Since 0.3. */
typedef enum tinfer_head_sum {
    TINFER_HEAD_SUM_EXACT = 0, /* llama.cpp's float order, bit for bit (the default) */
    TINFER_HEAD_SUM_FAST = 1   /* each 32-weight block's integer sum, then one multiply-add per
                                  block: other rounding (logits within 1e-3 of the exact ones,
                                  greedy tokens the same on the golden prompts: see
                                  doc/architecture.md), the same for any number of sequences per
                                  step. Taken by Q8_0 heads with the AVX-512 VNNI kernels;
                                  elsewhere the exact order */
} tinfer_head_sum;

/* How the CPU sums a prompt's products with Q5_0 and Q8_0 matrices (most of a Q4_K_M model's
 * layer weights; all of a Q8_0 model's), the work that bounds a prefill. Values are pinned.
 * Since 0.3. */
typedef enum tinfer_prompt_sum {
    TINFER_PROMPT_SUM_EXACT = 0, /* llama.cpp's float order, bit for bit (the default) */
    TINFER_PROMPT_SUM_FAST = 1   /* each 32-weight block's integer sum, then one multiply-add per
                                    block, as TINFER_HEAD_SUM_FAST: other rounding in the prompt's
                                    keys, values and logits (within the bounds doc/architecture.md
                                    states); Q5_0 products about twice as fast, Q8_0 ones about
                                    1.3 times. Taken by prefill passes over packed Q5_0 matrices
                                    and over Q8_0 ones with the x86-64-v3 kernels, over packed
                                    Q8_0 ones with the avx512 kernels; decode steps, other dtypes
                                    and the generic kernels keep the exact order */
} tinfer_prompt_sum;

/* Called by prefill and decode between layers with the user_data given in the params: return true
 * to stop the step, which then fails with TINFER_E_ABORTED and leaves the cache as it was (the
 * sequences keep their lengths; rows written past them are never read). Runs on the thread that
 * called prefill or decode. Since 0.2. */
typedef bool (*tinfer_abort_fn)(void *user_data);

/* Options of tinfer_context_create; fill with tinfer_context_params_init. Fields without a
 * "Since" are from 0.1. Since 0.1. */
typedef struct tinfer_context_params {
    uint32_t n_ctx;           /* tokens per sequence (default 4096; capped by nothing but memory) */
    uint32_t n_seq_max;       /* sequences the cache can hold at once (default 1) */
    uint32_t n_threads;       /* threads the CPU backend computes with, the calling thread
                                 included: 0 = one per online core (default), 1 = everything on
                                 the calling thread, at most 256. Any count gives bit-identical
                                 results. OpenBLAS is set to one thread, process-wide */
    tinfer_kv_dtype kv_dtype; /* element type of the cached keys and values (default F16) */
    uint32_t n_batch;         /* tokens a prefill processes per pass; longer prompts run in several
                                 passes (default 512, llama.cpp's n_ubatch, so a prompt rounds
                                 as it does there). Sets the size of the scratch buffers */
    tinfer_device_kind device;      /* where to compute (default TINFER_DEVICE_CPU). Since 0.2 */
    int32_t device_index;           /* which device of that kind, from 0 (default 0). Since 0.2 */
    tinfer_abort_fn abort_callback; /* asked between layers whether to stop the step (default
                                       NULL: never). Since 0.2 */
    void *abort_user_data;          /* handed to abort_callback. Since 0.2 */
    uint32_t n_kv_tokens;     /* tokens the cache's block pool holds, shared by all sequences and
                                 their forks, rounded up to whole 32-token blocks; each sequence
                                 is still capped at n_ctx. 0 (the default) = n_seq_max × n_ctx,
                                 at most that. Sizes the global layers' storage (a sliding-window
                                 ring is per sequence either way). Since 0.3 */
    uint32_t n_logits_max;    /* logits rows the output head computes at once (default 8, at most
                                 65536; raised to n_seq_max, capped at n_batch): the scratch holds
                                 that many rows of n_vocab floats, and a pass that needs more
                                 (tinfer_prefill_logits) runs its head in groups. Any value gives
                                 the same bits. Since 0.3 */
    tinfer_head_sum head_sum; /* the output head's float order (default TINFER_HEAD_SUM_EXACT).
                                 Since 0.3 */
    bool prefault;            /* true: every page of the context's host memory — the KV cache
                                 (kv_bytes of tinfer_context_info), the scratch (scratch_bytes),
                                 the logits rows — is written at creation, so the memory is
                                 resident and fixed from the start (a limit fails here, not under
                                 load; no step waits on a page's first write). false (the
                                 default): pages become resident as steps first reach them, and
                                 stay so. A CUDA cache is device memory, allocated whole either
                                 way. Since 0.3 */
    tinfer_prompt_sum prompt_sum; /* prefill's float order over Q5_0 and Q8_0 matrices (default
                                     TINFER_PROMPT_SUM_EXACT). Since 0.3 */
} tinfer_context_params;

/* Writes the defaults into the first size bytes of *params (pass sizeof *params): every field
 * that fits whole, zero elsewhere; nothing past size. NULL is a no-op. Since 0.2. */
TINFER_API void tinfer_context_params_init(tinfer_context_params *params, size_t size);

/* Creates a context for a model whose architecture is runnable (gemma3, llama, qwen2, qwen3).
 * params may be NULL (defaults; params_size is then ignored), else params_size is sizeof *params
 * (see the struct rules in tinfer.h; a 0.1 program's smaller struct gets the CPU device). Every
 * field is checked (E_INVALID_ARG naming it). Binds and checks every weight the architecture
 * needs: a missing or mis-shaped tensor gives TINFER_E_FORMAT naming it, another architecture
 * E_UNSUPPORTED, a weight dtype without a kernel E_UNSUPPORTED; E_NOMEM when the cache does not
 * fit. On success *out owns the context. Since 0.1 (params_size since 0.2). */
TINFER_API tinfer_status tinfer_context_create(const tinfer_model *model,
                                               const tinfer_context_params *params,
                                               size_t params_size, tinfer_context **out);
/* Releases a context; NULL is a no-op. Since 0.1. */
TINFER_API void tinfer_context_free(tinfer_context *ctx);

/* Appends n tokens (n ≥ 1) to sequence seq and runs them through the model, leaving the logits of
 * the last one for tinfer_logits(ctx, seq). E_INVALID_ARG for a bad seq or a token id outside
 * [0, n_vocab); E_CONTEXT_FULL when the sequence would exceed n_ctx or the block pool has too few
 * free blocks (tinfer_kv_free_tokens). Since 0.1. */
TINFER_API tinfer_status tinfer_prefill(tinfer_context *ctx, int32_t seq, const int32_t *tokens,
                                        size_t n);

/* Advances n_seq distinct sequences by one token each in one pass: tokens[i] is appended to
 * seqs[i]. Afterwards tinfer_logits(ctx, seqs[i]) holds each one's next-token logits. The same
 * sequence twice, a bad id or token gives E_INVALID_ARG; if any sequence is full, or the block
 * pool cannot take all of them, E_CONTEXT_FULL and no sequence changes. Since 0.1. */
TINFER_API tinfer_status tinfer_decode(tinfer_context *ctx, const int32_t *seqs,
                                       const int32_t *tokens, size_t n_seq);

/* The same as tinfer_prefill, and also copies the logits of the tokens it processes that want
 * marks (want[i] != 0; want NULL: every token) into logits, one row of n_vocab floats per wanted
 * token in token order. logits_cap is the length of logits in floats: E_INVALID_ARG, with
 * nothing changed, when it is below (wanted tokens) × n_vocab (logits may be NULL when no token
 * is wanted). Nothing is allocated. Afterwards tinfer_logits(ctx, seq) holds the last token's row
 * as after tinfer_prefill.
 * A token's row is bit-identical to what tinfer_logits would hold had the same prefill ended at
 * that token with the same passes: the output head computes each row as for a single token, in
 * groups of n_logits_max rows. A prefill runs in passes of n_batch tokens and a token's hidden
 * state rounds with the pass it is in (as llama.cpp rounds a ubatch), so row i equals the logits
 * of a tinfer_prefill of tokens[0..i] exactly when token i ends a pass: i + 1 = n, a multiple of
 * n_batch, or any i with n_batch = 1. On failure the cache and tinfer_logits are as they were and
 * the contents of logits are unspecified. Since 0.3. */
TINFER_API tinfer_status tinfer_prefill_logits(tinfer_context *ctx, int32_t seq,
                                               const int32_t *tokens, size_t n, const uint8_t *want,
                                               float *logits, size_t logits_cap);

/* The n_vocab logits computed for seq's last token by the latest prefill/decode that included
 * it; owned by the context, valid until the next prefill, decode or KV change of that sequence.
 * NULL for a bad seq or a sequence with no logits yet. Since 0.1. */
TINFER_API const float *tinfer_logits(const tinfer_context *ctx, int32_t seq);

/* Vocabulary size (the length of a logits row). Since 0.1. */
TINFER_API size_t tinfer_context_n_vocab(const tinfer_context *ctx);

/* What a context was made with, and the memory it holds. Since 0.2. */
typedef struct tinfer_context_info {
    uint32_t n_ctx;            /* tokens per sequence */
    uint32_t n_seq_max;        /* sequences */
    uint32_t n_batch;          /* tokens one pass holds (at least n_seq_max) */
    uint32_t n_threads;        /* threads the CPU backend runs on (0 asked = one per core) */
    tinfer_device_kind device; /* where it computes */
    int32_t device_index;
    uint64_t kv_bytes;      /* K and V storage of every layer (the sliding-window ring's too) */
    uint64_t scratch_bytes; /* activations of one pass and the logits rows */
    uint32_t n_kv_tokens;   /* tokens the shared block pool holds (whole blocks). Since 0.3 */
} tinfer_context_info;

/* Fills *out with at most out_size bytes (pass sizeof(tinfer_context_info)). Since 0.2. */
TINFER_API tinfer_status tinfer_context_get_info(const tinfer_context *ctx,
                                                 tinfer_context_info *out, size_t out_size);

/* What tinfer_context_create(model, params, params_size, …) would hold, without allocating the
 * cache: the same checks (E_INVALID_ARG, E_FORMAT, E_UNSUPPORTED for an unrunnable model or a
 * missing device), then the info the context would report — n_threads resolved — so a program
 * can size n_ctx and n_seq_max to the memory it has. Since 0.2. */
TINFER_API tinfer_status tinfer_context_estimate(const tinfer_model *model,
                                                 const tinfer_context_params *params,
                                                 size_t params_size, tinfer_context_info *out,
                                                 size_t out_size);

/* Number of tokens held for seq. Since 0.1. */
TINFER_API tinfer_status tinfer_kv_seq_len(const tinfer_context *ctx, int32_t seq, size_t *n);
/* Keeps the first n tokens of seq and forgets the rest (n larger than the length is an error,
 * E_INVALID_ARG). The sequence's logits are forgotten. With a sliding-window model (Gemma 3)
 * those layers keep only about the last window + n_batch positions, so once seq has run past them
 * it cannot be cut back much further: E_UNSUPPORTED, with nothing changed, when the positions the
 * next token would need are gone (clear it and prefill again); truncating to 0 always works.
 * Since 0.1. */
TINFER_API tinfer_status tinfer_kv_seq_truncate(tinfer_context *ctx, int32_t seq, size_t n);
/* Forgets every token of seq (the same as truncating to 0). Since 0.1. */
TINFER_API tinfer_status tinfer_kv_seq_clear(tinfer_context *ctx, int32_t seq);
/* Forks src into dst: dst's previous contents are released first, then dst holds src's tokens
 * (and its logits, if src has any) and both continue independently. The cached blocks are shared,
 * not copied: a full 32-token block stays shared for good, and a partly filled last block is
 * copied when either sequence first writes after it, so the fork itself takes no pool space (the
 * sliding-window layers' per-sequence ring is copied). An empty src empties dst. src == dst does
 * nothing and returns TINFER_OK. E_INVALID_ARG for a bad src or dst. Since 0.3. */
TINFER_API tinfer_status tinfer_kv_seq_copy(tinfer_context *ctx, int32_t src, int32_t dst);
/* *n = the tokens the block pool's free blocks hold (32 per block): how many can still be
 * appended, over all sequences, before the pool is empty. A sequence whose last block is partly
 * filled and not shared may append up to the rest of that block without taking from the pool; one
 * whose partly filled last block is shared with a fork takes a block for its first new token.
 * n_ctx still caps each sequence. Since 0.3. */
TINFER_API tinfer_status tinfer_kv_free_tokens(const tinfer_context *ctx, size_t *n);

#endif
