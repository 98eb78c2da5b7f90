/* libFuzzer target: a whole model, loaded and run. The input is the header of a tiny GGUF model
 * (keys and tensor table, seeded from tests/unit/synthetic_model.h by make_seeds); this target
 * pads it to the alignment and appends the model's data section, writes the file, then
 * tinfer_model_load → tinfer_context_create (n_ctx 8) → prefill of 3 tokens → 2 decode steps.
 * Mutations thus land in the metadata and the tensor table, not in the weights. Built by
 * scripts/fuzz.sh. */
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *data_section;
static size_t data_size;
static char path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    synth_spec spec = fuzz_model_spec();
    gguf_writer *w = synth_build(&spec);
    size_t size = 0;
    uint8_t *bytes = w ? gw_build(w, &size) : NULL;
    if (!bytes) exit(1);
    size_t start = gw_offset(w, GW_DATA_START, 0);
    data_size = size - start;
    data_section = malloc(data_size);
    memcpy(data_section, bytes + start, data_size);
    free(bytes);
    gw_free(w);
    return 0;
}

static void run(const tinfer_model *model) {
    tinfer_context_params params;
    tinfer_context_params_init(&params, sizeof params);
    params.n_ctx = 8;
    params.n_batch = 4;
    tinfer_context *ctx = NULL;
    tinfer_status st = tinfer_context_create(model, &params, sizeof params, &ctx);
    if (getenv("TINFER_FUZZ_VERBOSE")) fprintf(stderr, "context: %s\n", tinfer_last_error());
    if (st != TINFER_OK) return;
    size_t n_vocab = tinfer_context_n_vocab(ctx);
    int32_t prompt[3] = {1, 2, 3}, seq = 0;
    for (int i = 0; i < 3; i++) prompt[i] = n_vocab ? prompt[i] % (int32_t)n_vocab : 0;
    st = tinfer_prefill(ctx, 0, prompt, 3);
    if (getenv("TINFER_FUZZ_VERBOSE")) fprintf(stderr, "prefill: %s\n", tinfer_status_str(st));
    if (st == TINFER_OK) {
        for (int32_t step = 0; step < 2; step++) {
            int32_t token = n_vocab ? (step + 5) % (int32_t)n_vocab : 0;
            if (tinfer_decode(ctx, &seq, &token, 1) != TINFER_OK) break;
            const float *logits = tinfer_logits(ctx, 0);
            if (!logits) abort();
            volatile float sink = logits[0] + logits[n_vocab - 1];
            (void)sink;
        }
    }
    tinfer_context_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t padded = (size + 31) / 32 * 32, total = padded + data_size;
    uint8_t *file = calloc(1, total);
    if (!file) return 0;
    memcpy(file, data, size);
    memcpy(file + padded, data_section, data_size);
    tinfer_model *model = NULL;
    tinfer_status st = fuzz_temp_file(file, total, ".gguf", path, sizeof path)
                           ? tinfer_model_load(path, NULL, 0, &model)
                           : TINFER_E_IO;
    if (getenv("TINFER_FUZZ_VERBOSE")) fprintf(stderr, "load: %s\n", tinfer_last_error());
    if (st == TINFER_OK) {
        run(model);
        tinfer_model_free(model);
    }
    remove(path);
    free(file);
    return 0;
}
