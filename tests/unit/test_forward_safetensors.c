/* The same weights as a GGUF file and as a Hugging Face directory (config.json +
 * model.safetensors) give identical logits, for every architecture and for F32, F16 and BF16
 * matrices. The directory is written the way checkpoints are: Hugging Face tensor names, Llama's
 * q/k rows in their original order (GGUF converters permute them for adjacent-pair RoPE) and
 * Gemma's norm weights stored as w - 1 (its RMSNorm multiplies by 1 + w). Both exact in float32
 * for these values, so the logits must agree bit for bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "synthetic_model.h"
#include "tinfer/tinfer.h"

enum { MAX_TENSORS = 128 };

typedef struct hf_tensor {
    char name[96];
    uint32_t n_rows, row_elems;
    bool is_vector;
    float *values;
} hf_tensor;

typedef struct hf_model {
    const synth_spec *spec;
    hf_tensor tensors[MAX_TENSORS];
    size_t n;
} hf_model;

/* GGUF name → Hugging Face name for the architecture; false for tensors HF does not have. */
static bool hf_name(const synth_spec *s, const char *gguf, char *out, size_t cap) {
    static const char *const map[][2] = {
        {"attn_norm.weight", "input_layernorm.weight"},
        {"attn_q.weight", "self_attn.q_proj.weight"},
        {"attn_k.weight", "self_attn.k_proj.weight"},
        {"attn_v.weight", "self_attn.v_proj.weight"},
        {"attn_output.weight", "self_attn.o_proj.weight"},
        {"attn_q.bias", "self_attn.q_proj.bias"},
        {"attn_k.bias", "self_attn.k_proj.bias"},
        {"attn_v.bias", "self_attn.v_proj.bias"},
        {"attn_q_norm.weight", "self_attn.q_norm.weight"},
        {"attn_k_norm.weight", "self_attn.k_norm.weight"},
        {"ffn_gate.weight", "mlp.gate_proj.weight"},
        {"ffn_up.weight", "mlp.up_proj.weight"},
        {"ffn_down.weight", "mlp.down_proj.weight"},
        {"post_attention_norm.weight", "post_attention_layernorm.weight"},
        {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
    };
    if (!strcmp(gguf, "token_embd.weight"))
        return snprintf(out, cap, "model.embed_tokens.weight") > 0;
    if (!strcmp(gguf, "output_norm.weight")) return snprintf(out, cap, "model.norm.weight") > 0;
    unsigned layer;
    int consumed = 0;
    if (sscanf(gguf, "blk.%u.%n", &layer, &consumed) != 1 || consumed == 0) return false;
    const char *suffix = gguf + consumed;
    if (!strcmp(suffix, "ffn_norm.weight")) {
        const bool gemma = !strcmp(s->arch, "gemma3");
        snprintf(out, cap, "model.layers.%u.%s", layer,
                 gemma ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight");
        return true;
    }
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(suffix, map[i][0])) {
            snprintf(out, cap, "model.layers.%u.%s", layer, map[i][1]);
            return true;
        }
    return false;
}

/* Undoes the converter's permutation: GGUF row (h, 2i + j) is HF row (h, j · half + i). */
static void unpermute_rows(const float *gguf, float *hf, uint32_t n_rows, uint32_t row_elems,
                           uint32_t head_dim) {
    const uint32_t half = head_dim / 2;
    for (uint32_t r = 0; r < n_rows; r++) {
        const uint32_t head = r / head_dim, within = r % head_dim;
        const uint32_t hf_row = head * head_dim + (within % 2) * half + within / 2;
        memcpy(hf + (size_t)hf_row * row_elems, gguf + (size_t)r * row_elems,
               row_elems * sizeof(float));
    }
}

static void collect(void *ctx, const char *name, uint32_t n_rows, uint32_t row_elems,
                    bool is_vector, const float *values) {
    hf_model *m = ctx;
    hf_tensor *t = &m->tensors[m->n];
    if (m->n >= MAX_TENSORS || !hf_name(m->spec, name, t->name, sizeof t->name)) return;
    const size_t n = (size_t)n_rows * row_elems;
    t->values = malloc(n * sizeof(float));
    const bool permuted = !strcmp(m->spec->arch, "llama") &&
                          (strstr(name, "attn_q.weight") || strstr(name, "attn_k.weight"));
    if (permuted) unpermute_rows(values, t->values, n_rows, row_elems, m->spec->head_dim);
    else memcpy(t->values, values, n * sizeof(float));
    if (!strcmp(m->spec->arch, "gemma3") && strstr(name, "norm.weight"))
        for (size_t i = 0; i < n; i++) t->values[i] -= 1.0f;
    t->n_rows = n_rows;
    t->row_elems = row_elems;
    t->is_vector = is_vector;
    m->n++;
}

/* model.safetensors: u64 header length, JSON header, then the tensors back to back. */
static void write_safetensors(const hf_model *m, uint32_t matrix_type, const char *path) {
    const char *dtype_name = matrix_type == 1 ? "F16" : matrix_type == 30 ? "BF16" : "F32";
    char *header = calloc(1, 64 * 1024);
    size_t len = 0, offset = 0;
    len += (size_t)snprintf(header + len, 64 * 1024 - len, "{");
    for (size_t i = 0; i < m->n; i++) {
        const hf_tensor *t = &m->tensors[i];
        const size_t elem = t->is_vector || matrix_type == 0 ? 4 : 2;
        const size_t bytes = (size_t)t->n_rows * t->row_elems * elem;
        if (t->is_vector)
            len += (size_t)snprintf(header + len, 64 * 1024 - len,
                                    "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%u],"
                                    "\"data_offsets\":[%zu,%zu]}",
                                    i ? "," : "", t->name, t->row_elems, offset, offset + bytes);
        else
            len += (size_t)snprintf(header + len, 64 * 1024 - len,
                                    "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[%u,%u],"
                                    "\"data_offsets\":[%zu,%zu]}",
                                    i ? "," : "", t->name, dtype_name, t->n_rows, t->row_elems,
                                    offset, offset + bytes);
        offset += bytes;
    }
    len += (size_t)snprintf(header + len, 64 * 1024 - len, "}");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    const uint64_t header_len = len;
    fwrite(&header_len, 8, 1, f);
    fwrite(header, 1, len, f);
    for (size_t i = 0; i < m->n; i++) {
        const hf_tensor *t = &m->tensors[i];
        const size_t n = (size_t)t->n_rows * t->row_elems;
        if (t->is_vector || matrix_type == 0) {
            fwrite(t->values, 4, n, f);
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            const uint16_t h =
                matrix_type == 1 ? tf_f32_to_f16(t->values[j]) : tf_f32_to_bf16(t->values[j]);
            fwrite(&h, 2, 1, f);
        }
    }
    fclose(f);
    free(header);
}

static void write_config(const synth_spec *s, const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const bool gemma = !strcmp(s->arch, "gemma3");
    const char *cls = gemma                       ? "Gemma3ForCausalLM"
                      : !strcmp(s->arch, "llama") ? "LlamaForCausalLM"
                      : !strcmp(s->arch, "qwen2") ? "Qwen2ForCausalLM"
                                                  : "Qwen3ForCausalLM";
    fprintf(f,
            "{\"architectures\":[\"%s\"],\"model_type\":\"%s\",\"hidden_size\":%u,"
            "\"num_hidden_layers\":%u,\"intermediate_size\":%u,\"num_attention_heads\":%u,"
            "\"num_key_value_heads\":%u,\"head_dim\":%u,\"vocab_size\":%u,\"rms_norm_eps\":1e-06,"
            "\"rope_theta\":10000.0,\"max_position_embeddings\":4096,\"tie_word_embeddings\":true",
            cls, gemma ? "gemma3_text" : s->arch, s->n_embd, s->n_layer, s->n_ff, s->n_head,
            s->n_head_kv, s->head_dim, s->n_vocab);
    if (gemma)
        fprintf(f,
                ",\"sliding_window\":%u,\"rope_local_base_freq\":10000.0,"
                "\"query_pre_attn_scalar\":%u",
                s->sliding_window, s->head_dim);
    fprintf(f, "}\n");
    fclose(f);
}

/* Logits of the last of 9 tokens, prefilled in one call then one decode. */
static void run_model(const char *path, size_t n_vocab, float *out) {
    tinfer_model *model = NULL;
    if (tinfer_model_load(path, NULL, 0, &model) != TINFER_OK)
        fail_msg("%s: %s", path, tinfer_last_error());
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    p.n_ctx = 32;
    tinfer_context *ctx = NULL;
    if (tinfer_context_create(model, &p, sizeof p, &ctx) != TINFER_OK)
        fail_msg("%s: %s", path, tinfer_last_error());
    const int32_t tokens[9] = {1, 5, 9, 14, 2, 33, 7, 60, 21};
    assert_int_equal(tinfer_prefill(ctx, 0, tokens, 8), TINFER_OK);
    const int32_t seq = 0;
    assert_int_equal(tinfer_decode(ctx, &seq, &tokens[8], 1), TINFER_OK);
    memcpy(out, tinfer_logits(ctx, 0), n_vocab * sizeof(float));
    tinfer_context_free(ctx);
    tinfer_model_free(model);
}

static void safetensors_directory_equals_gguf(void **state) {
    (void)state;
    const char *archs[] = {"gemma3", "llama", "qwen2", "qwen3"};
    const uint32_t types[] = {0, 1, 30};
    for (size_t a = 0; a < 4; a++)
        for (size_t t = 0; t < 3; t++) {
            hf_model hf = {0};
            synth_spec spec = synth_gemma3();
            spec.arch = archs[a];
            spec.matrix_type = types[t];
            if (strcmp(archs[a], "gemma3") != 0) spec.sliding_window = 0;
            spec.sink = collect;
            spec.sink_ctx = &hf;
            hf.spec = &spec;
            char gguf_path[4096], dir[4096], file[4200];
            assert_non_null(synth_write(&spec, "st_model.gguf", gguf_path, sizeof gguf_path));
            test_tmp_path(dir, sizeof dir, "st_model_dir");
            mkdir(dir, 0755);
            snprintf(file, sizeof file, "%s/model.safetensors", dir);
            write_safetensors(&hf, types[t], file);
            snprintf(file, sizeof file, "%s/config.json", dir);
            write_config(&spec, file);
            float from_gguf[96], from_hf[96];
            run_model(gguf_path, spec.n_vocab, from_gguf);
            run_model(dir, spec.n_vocab, from_hf);
            if (memcmp(from_gguf, from_hf, spec.n_vocab * sizeof(float)) != 0)
                fail_msg("%s type %u: logits differ (first: %g vs %g)", archs[a], types[t],
                         from_gguf[0], from_hf[0]);
            for (size_t i = 0; i < hf.n; i++) free(hf.tensors[i].values);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(safetensors_directory_equals_gguf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
