/* Tokenizer speed: per tokenizer, load time and tokenize throughput (MB/s of UTF-8 input) over
 * the conformance corpus, one tinfer_tokenize call per line on one thread, as many passes as fit
 * in --seconds. Prints one JSON object per tokenizer; benchmarks/bench_tokenizer.py runs it next
 * to Hugging Face `tokenizers` and prints the table.
 *
 *   tokenizer_bench [--seconds S] [--gguf PATH] NAME...     (NAME: gemma3 llama2 llama3 qwen3)
 * Reads tests/data/tokenizers/ under $TINFER_SOURCE_DIR (default "."). */
#include <time.h>

#include "../tests/unit/test_tokenizer_util.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bench(const char *label, const char *path, const tt_corpus *c, double seconds) {
    double t0 = now_s();
    tinfer_tokenizer *t = NULL;
    if (tinfer_tokenizer_load(path, &t) != TINFER_OK) {
        fprintf(stderr, "%s: %s\n", path, tinfer_last_error());
        return;
    }
    double load_ms = (now_s() - t0) * 1e3;
    size_t cap = 0, bytes = 0, tokens = 0, passes = 0;
    for (size_t i = 0; i < c->n; i++) {
        size_t b = tinfer_tokenize_bound(t, c->lens[i]);
        if (b > cap) cap = b;
    }
    int32_t *ids = malloc(cap * sizeof *ids);
    double start = now_s(), elapsed = 0;
    while (elapsed < seconds || passes == 0) {
        for (size_t i = 0; i < c->n; i++) {
            size_t n;
            tinfer_tokenize(t, c->texts[i], c->lens[i], TINFER_TOKENIZE_DEFAULT, ids, cap, &n);
            bytes += c->lens[i];
            tokens += n;
        }
        passes++;
        elapsed = now_s() - start;
    }
    printf("{\"tokenizer\": \"%s\", \"load_ms\": %.1f, \"mb_per_s\": %.2f, \"tokens_per_s\": %.0f, "
           "\"passes\": %zu}\n", label, load_ms, bytes / elapsed / 1e6, tokens / elapsed, passes);
    fflush(stdout);
    free(ids);
    tinfer_tokenizer_free(t);
}

int main(int argc, char **argv) {
    double seconds = 2.0;
    tt_corpus corpus;
    if (!tt_load_corpus(&corpus)) {
        fprintf(stderr, "cannot read the corpus (set TINFER_SOURCE_DIR)\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (strcmp(argv[i], "--gguf") == 0 && i + 1 < argc) {
            bench("gemma3-gguf", argv[++i], &corpus, seconds);
        } else {
            char path[4096];
            tt_data_path(path, sizeof path, argv[i]);
            bench(argv[i], path, &corpus, seconds);
        }
    }
    tt_free_corpus(&corpus);
    return 0;
}
