/* Writes the binary seed files of the fuzz targets into OUTDIR/<target>/ (scripts/fuzz.sh runs it
 * through tests/fuzz/make_corpus.sh): small GGUF and safetensors files built by the test fixtures,
 * so no binary corpus is committed. Usage: make_seeds OUTDIR */
#include <errno.h>
#include <sys/stat.h>

#include "fixtures/safetensors_writer.h"
#include "fuzz_common.h"

static int put(const char *dir, const char *target, const char *name, const void *bytes,
               size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return 1;
    snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, size, f) != size) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        if (f) fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

static int put_gguf(const char *dir, const char *target, const char *name, gguf_writer *w,
                    size_t keep) {
    size_t size = 0;
    uint8_t *bytes = w ? gw_build(w, &size) : NULL;
    if (!bytes) return 1;
    if (keep && keep < size) size = keep;
    int rc = put(dir, target, name, bytes, size);
    free(bytes);
    return rc;
}

/* One snapshot of ctx (seq -1: the whole context) as a seed of fuzz_snapshot. */
static int put_snapshot(const char *dir, const char *name, const tinfer_context *ctx, int32_t seq,
                        bool logits) {
    tinfer_snapshot_params params;
    tinfer_snapshot_params_init(&params, sizeof params);
    params.include_logits = logits;
    size_t bound = 0, written = 0;
    if (tinfer_snapshot_bound(ctx, seq, &params, sizeof params, &bound) != TINFER_OK) return 1;
    uint8_t *buf = malloc(bound);
    int rc = !buf || tinfer_snapshot_save(ctx, seq, &params, sizeof params, buf, bound,
                                          &written) != TINFER_OK;
    if (!rc) rc = put(dir, "fuzz_snapshot", name, buf, written);
    free(buf);
    return rc;
}

/* Real snapshots of fuzz_common.h's small Gemma 3: one sequence run past the sliding-window ring
 * (F16), a short one without logits, a whole context of two sequences (F32). */
static int snapshot_seeds(const char *dir) {
    synth_spec spec = fuzz_snapshot_spec();
    gguf_writer *w = synth_build(&spec);
    size_t size = 0;
    uint8_t *bytes = w ? gw_build(w, &size) : NULL;
    char path[4096];
    tinfer_model *model = NULL;
    int rc = !bytes || !fuzz_temp_file(bytes, size, "-seeds.gguf", path, sizeof path) ||
             tinfer_model_load(path, NULL, 0, &model) != TINFER_OK;
    free(bytes);
    gw_free(w);
    if (rc) return 1;
    remove(path);
    int32_t tokens[100];
    fuzz_snapshot_tokens(tokens, 100, 2);
    tinfer_context *f16 = fuzz_snapshot_context(model, TINFER_KV_F16);
    tinfer_context *f32 = fuzz_snapshot_context(model, TINFER_KV_F32);
    rc = !f16 || !f32 || tinfer_prefill(f16, 0, tokens, 100) != TINFER_OK ||
         tinfer_prefill(f16, 1, tokens, 3) != TINFER_OK ||
         tinfer_prefill(f32, 0, tokens, 10) != TINFER_OK ||
         tinfer_prefill(f32, 1, tokens + 10, 4) != TINFER_OK;
    if (!rc)
        rc = put_snapshot(dir, "past_the_ring_f16.tfkv", f16, 0, true) |
             put_snapshot(dir, "short_no_logits_f16.tfkv", f16, 1, false) |
             put_snapshot(dir, "whole_context_f32.tfkv", f32, -1, true);
    tinfer_context_free(f16);
    tinfer_context_free(f32);
    tinfer_model_free(model);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUTDIR\n");
        return 2;
    }
    const char *dir = argv[1];
    int rc = 0;

    /* tokenizers in GGUF metadata: for the GGUF reader and the tokenizer-from-GGUF target */
    static const char *const kinds[] = {"llama", "gpt2"};
    for (int k = 0; k < 2; k++) {
        gguf_writer *w = gw_new();
        gw_kv_str(w, "general.architecture", k ? "qwen2" : "gemma3");
        fuzz_tokenizer_keys(w, kinds[k]);
        char name[64];
        snprintf(name, sizeof name, "%s.gguf", kinds[k]);
        rc |= put_gguf(dir, "fuzz_tokenizer_gguf", name, w, 0);
        rc |= put_gguf(dir, "fuzz_gguf", name, w, 0);
        gw_free(w);
    }

    /* the tiny model: whole for the GGUF reader, its header for the whole-model target (which
     * appends the data section itself) */
    synth_spec spec = fuzz_model_spec();
    gguf_writer *w = synth_build(&spec);
    size_t size = 0;
    uint8_t *model = w ? gw_build(w, &size) : NULL;
    if (!model) return 1;
    size_t data_start = gw_offset(w, GW_DATA_START, 0);
    rc |= put(dir, "fuzz_gguf", "model.gguf", model, data_start);
    rc |= put(dir, "fuzz_model", "model_header", model, data_start);
    free(model);
    gw_free(w);
    gguf_writer *w2 = gw_new();
    gw_kv_u32(w2, "general.alignment", 64);
    gw_kv_f32(w2, "x.f32", 1.5f);
    const char *strings[] = {"a", "", "ccc"};
    gw_kv_str_array(w2, "x.strings", 3, strings);
    float values[4] = {1, 2, 3, 4};
    gw_tensor(w2, "t", 0, 1, (const uint64_t[]){4}, values, sizeof values);
    rc |= put_gguf(dir, "fuzz_gguf", "keys_and_tensor.gguf", w2, 0);
    gw_free(w2);

    /* safetensors */
    const float f32[6] = {1, 2, 3, 4, 5, 6};
    st_fixture_tensor tensors[] = {
        {.name = "a.weight",
         .dtype = "F32",
         .n_dims = 2,
         .shape = {2, 3},
         .data = f32,
         .n_bytes = 24},
        {.name = "b", .dtype = "F16", .n_dims = 1, .shape = {2}, .data = f32, .n_bytes = 4},
    };
    const st_fixture_meta meta[] = {{"format", "pt"}};
    uint8_t *st = st_fixture_build(tensors, 2, meta, 1, &size);
    if (!st) return 1;
    rc |= put(dir, "fuzz_safetensors", "two.safetensors", st, size);
    free(st);
    rc |= snapshot_seeds(dir);
    return rc;
}
