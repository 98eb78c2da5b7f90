/* libFuzzer target: KV snapshots loaded into a context (tinfer_snapshot_load). The input is a
 * snapshot (seeded by make_seeds with real ones of the small Gemma 3 of fuzz_common.h: one
 * sequence past the sliding-window ring, a whole context, F16 and F32). Each input is loaded as
 * it is and once more with the header's checksum recomputed, so mutations of the header and
 * the records reach the checks behind the checksum. The oracle besides the sanitizers: a load
 * that fails must leave the context exactly as it was (lengths and logits); one that succeeds is
 * followed by a decode step. Built by scripts/fuzz.sh. */
#include "fuzz_common.h"
#include "snapshot/snapshot_format.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tinfer_model *model;
static tinfer_context *contexts[2]; /* F16, F32 */
static float logits[2][FUZZ_SNAPSHOT_VOCAB];

/* A context with 20 tokens in slot 0 and 9 in slot 1; its logits of slot 0 kept. */
static tinfer_context *fresh(int d) {
    tinfer_context *ctx = fuzz_snapshot_context(model, d ? TINFER_KV_F32 : TINFER_KV_F16);
    int32_t tokens[20];
    fuzz_snapshot_tokens(tokens, 20, 1);
    if (!ctx || tinfer_prefill(ctx, 0, tokens, 20) != TINFER_OK ||
        tinfer_prefill(ctx, 1, tokens, 9) != TINFER_OK)
        abort();
    memcpy(logits[d], tinfer_logits(ctx, 0), sizeof logits[d]);
    return ctx;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    synth_spec spec = fuzz_snapshot_spec();
    gguf_writer *w = synth_build(&spec);
    size_t size = 0;
    uint8_t *bytes = w ? gw_build(w, &size) : NULL;
    char path[4096];
    if (!bytes || !fuzz_temp_file(bytes, size, "-snapshot.gguf", path, sizeof path) ||
        tinfer_model_load(path, NULL, 0, &model) != TINFER_OK)
        exit(1);
    remove(path);
    free(bytes);
    gw_free(w);
    for (int d = 0; d < 2; d++) contexts[d] = fresh(d);
    return 0;
}

static void load(const uint8_t *data, size_t size) {
    /* The dtype the snapshot claims picks the context, so loads get past that check. */
    const int d = size > 56 && data[56] == 1;
    tinfer_context *ctx = contexts[d];
    for (int32_t seq = -1; seq <= 1; seq++) {
        tinfer_status st = tinfer_snapshot_load(ctx, seq, data, size);
        if (getenv("TINFER_FUZZ_VERBOSE"))
            fprintf(stderr, "load seq %d: %s %s\n", seq, tinfer_status_str(st),
                    tinfer_last_error());
        if (st == TINFER_OK) {
            int32_t token = 5, slot = seq < 0 ? 0 : seq;
            size_t n = 0;
            if (tinfer_kv_seq_len(ctx, slot, &n) == TINFER_OK && n < 128 &&
                tinfer_decode(ctx, &slot, &token, 1) != TINFER_OK)
                abort();
            tinfer_context_free(ctx);
            contexts[d] = ctx = fresh(d);
            continue;
        }
        if (st != TINFER_E_INVALID_ARG && st != TINFER_E_FORMAT && st != TINFER_E_UNSUPPORTED &&
            st != TINFER_E_CONTEXT_FULL && st != TINFER_E_NOMEM)
            abort();
        size_t n0 = 0, n1 = 0;
        const float *row = tinfer_logits(ctx, 0);
        if (tinfer_kv_seq_len(ctx, 0, &n0) != TINFER_OK || n0 != 20 ||
            tinfer_kv_seq_len(ctx, 1, &n1) != TINFER_OK || n1 != 9 || !row ||
            memcmp(row, logits[d], sizeof logits[d]) != 0)
            abort(); /* a failed load changed the context */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load(data, size);
    /* Again with the checksum over the header and the records made right. */
    if (size < TF_SNAP_HEADER_BYTES || memcmp(data, TF_SNAP_MAGIC, 8) != 0) return 0;
    uint32_t n_records;
    memcpy(&n_records, data + 60, sizeof n_records);
    if (n_records > TF_SNAP_MAX_RECORDS || size < tf_snap_prefix_bytes(n_records)) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    uint64_t sum = tf_snap_hash(TF_SNAP_HASH_SEED, copy, 88);
    sum = tf_snap_hash(sum, copy + TF_SNAP_HEADER_BYTES, (size_t)n_records * TF_SNAP_RECORD_BYTES);
    memcpy(copy + 88, &sum, sizeof sum);
    load(copy, size);
    free(copy);
    return 0;
}
