/* config.json → GGUF-named metadata: one released config of each architecture, the variants the
 * mapping must follow (nested text_config, rope scaling, sliding windows, transformers 5's
 * rope_parameters), and malformed configs with their exact status and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "fixtures/safetensors_writer.h"
#include "format/hf_config.h"

/* config.json of meta-llama/Llama-3.2-1B as released (the fields this reader looks at and their
 * neighbours). */
static const char LLAMA_3_2_1B[] =
    "{\"architectures\":[\"LlamaForCausalLM\"],\"attention_bias\":false,"
    "\"attention_dropout\":0.0,\"bos_token_id\":128000,\"eos_token_id\":128001,"
    "\"head_dim\":64,\"hidden_act\":\"silu\",\"hidden_size\":2048,\"initializer_range\":0.02,"
    "\"intermediate_size\":8192,\"max_position_embeddings\":131072,\"mlp_bias\":false,"
    "\"model_type\":\"llama\",\"num_attention_heads\":32,\"num_hidden_layers\":16,"
    "\"num_key_value_heads\":8,\"pretraining_tp\":1,\"rms_norm_eps\":1e-05,"
    "\"rope_scaling\":{\"factor\":32.0,\"high_freq_factor\":4.0,\"low_freq_factor\":1.0,"
    "\"original_max_position_embeddings\":8192,\"rope_type\":\"llama3\"},"
    "\"rope_theta\":500000.0,\"tie_word_embeddings\":true,\"torch_dtype\":\"bfloat16\","
    "\"transformers_version\":\"4.45.0.dev0\",\"use_cache\":true,\"vocab_size\":128256}";

/* Qwen/Qwen2.5-0.5B: sliding_window is present but use_sliding_window is false. */
static const char QWEN2_5_0_5B[] =
    "{\"architectures\":[\"Qwen2ForCausalLM\"],\"attention_dropout\":0.0,"
    "\"bos_token_id\":151643,\"eos_token_id\":151643,\"hidden_act\":\"silu\","
    "\"hidden_size\":896,\"initializer_range\":0.02,\"intermediate_size\":4864,"
    "\"max_position_embeddings\":32768,\"max_window_layers\":24,\"model_type\":\"qwen2\","
    "\"num_attention_heads\":14,\"num_hidden_layers\":24,\"num_key_value_heads\":2,"
    "\"rms_norm_eps\":1e-06,\"rope_theta\":1000000.0,\"sliding_window\":32768,"
    "\"tie_word_embeddings\":true,\"torch_dtype\":\"bfloat16\","
    "\"transformers_version\":\"4.40.1\",\"use_cache\":true,\"use_mrope\":false,"
    "\"use_sliding_window\":false,\"vocab_size\":151936}";

/* Qwen/Qwen3-0.6B: head_dim (128) differs from hidden_size / heads (64); rope_theta is an
 * integer; sliding_window and rope_scaling are null. */
static const char QWEN3_0_6B[] =
    "{\"architectures\":[\"Qwen3ForCausalLM\"],\"attention_bias\":false,"
    "\"attention_dropout\":0.0,\"bos_token_id\":151643,\"eos_token_id\":151645,"
    "\"head_dim\":128,\"hidden_act\":\"silu\",\"hidden_size\":1024,\"initializer_range\":0.02,"
    "\"intermediate_size\":3072,\"max_position_embeddings\":40960,\"max_window_layers\":28,"
    "\"model_type\":\"qwen3\",\"num_attention_heads\":16,\"num_hidden_layers\":28,"
    "\"num_key_value_heads\":8,\"rms_norm_eps\":1e-06,\"rope_scaling\":null,"
    "\"rope_theta\":1000000,\"sliding_window\":null,\"tie_word_embeddings\":true,"
    "\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.51.0\",\"use_cache\":true,"
    "\"use_sliding_window\":false,\"vocab_size\":151936}";

/* google/gemma-3-270m (its GGUF conversion carries the same values: context 32768, width 640,
 * 18 blocks, 4 heads, 1 kv head, head 256, window 512, base 1e6). */
static const char GEMMA_3_270M[] =
    "{\"_sliding_window_pattern\":6,\"architectures\":[\"Gemma3ForCausalLM\"],"
    "\"attention_bias\":false,\"attention_dropout\":0.0,\"attn_logit_softcapping\":null,"
    "\"bos_token_id\":2,\"eos_token_id\":1,\"final_logit_softcapping\":null,\"head_dim\":256,"
    "\"hidden_activation\":\"gelu_pytorch_tanh\",\"hidden_size\":640,"
    "\"initializer_range\":0.02,\"intermediate_size\":2048,"
    "\"layer_types\":[\"sliding_attention\",\"sliding_attention\",\"sliding_attention\","
    "\"sliding_attention\",\"sliding_attention\",\"full_attention\"],"
    "\"max_position_embeddings\":32768,\"model_type\":\"gemma3_text\","
    "\"num_attention_heads\":4,\"num_hidden_layers\":18,\"num_key_value_heads\":1,"
    "\"pad_token_id\":0,\"query_pre_attn_scalar\":256,\"rms_norm_eps\":1e-06,"
    "\"rope_local_base_freq\":10000.0,\"rope_scaling\":null,\"rope_theta\":1000000.0,"
    "\"sliding_window\":512,\"torch_dtype\":\"bfloat16\","
    "\"transformers_version\":\"4.55.0.dev0\",\"use_bidirectional_attention\":false,"
    "\"use_cache\":true,\"vocab_size\":262144}";

/* The shape of google/gemma-3-4b-it's config (representative values): the text model nested in
 * text_config with most fields left to Gemma3TextConfig's defaults, token ids at the top. */
static const char GEMMA_3_4B_NESTED[] =
    "{\"architectures\":[\"Gemma3ForConditionalGeneration\"],\"boi_token_index\":255999,"
    "\"eoi_token_index\":256000,\"eos_token_id\":[1,106],\"image_token_index\":262144,"
    "\"mm_tokens_per_image\":256,\"model_type\":\"gemma3\","
    "\"text_config\":{\"hidden_size\":2560,\"intermediate_size\":10240,"
    "\"model_type\":\"gemma3_text\",\"num_hidden_layers\":34,"
    "\"rope_scaling\":{\"factor\":8.0,\"rope_type\":\"linear\"},\"sliding_window\":1024},"
    "\"vision_config\":{\"hidden_size\":1152,\"model_type\":\"siglip_vision_model\"}}";

static tf_metadata read_ok(const char *text) {
    tf_metadata meta = {0};
    tinfer_status status = tf_hf_config_read(text, strlen(text), &meta);
    if (status != TINFER_OK)
        fail_msg("config rejected: %s: %s", tinfer_status_str(status), tinfer_last_error());
    return meta;
}

static const tf_meta_value *get_typed(const tf_metadata *meta, const char *key,
                                      tinfer_meta_type type) {
    const tf_meta_value *value = tf_meta_get(meta, key);
    if (!value) fail_msg("key %s is missing", key);
    if (value->type != type) fail_msg("key %s has type %d, want %d", key, value->type, type);
    return value;
}

static void expect_u32(const tf_metadata *meta, const char *key, uint64_t want) {
    const tf_meta_value *value = get_typed(meta, key, TINFER_META_U32);
    if (value->as.u64 != want)
        fail_msg("key %s = %llu, want %llu", key, (unsigned long long)value->as.u64,
                 (unsigned long long)want);
}

/* F32 values are stored rounded through float, as a GGUF file's would read. */
static void expect_f32(const tf_metadata *meta, const char *key, double want) {
    const tf_meta_value *value = get_typed(meta, key, TINFER_META_F32);
    if (value->as.f64 != (double)(float)want)
        fail_msg("key %s = %.9g, want %.9g", key, value->as.f64, want);
}

static void expect_str(const tf_metadata *meta, const char *key, const char *want) {
    assert_string_equal(get_typed(meta, key, TINFER_META_STRING)->as.str.ptr, want);
}

static void expect_bool(const tf_metadata *meta, const char *key, bool want) {
    assert_int_equal(get_typed(meta, key, TINFER_META_BOOL)->as.boolean, want);
}

static void expect_absent(const tf_metadata *meta, const char *key) {
    if (tf_meta_get(meta, key)) fail_msg("key %s should be absent", key);
}

static void expect_eos_list(const tf_metadata *meta, const int32_t *want, size_t n) {
    const tf_meta_value *value = get_typed(meta, "tokenizer.hf.eos_token_ids", TINFER_META_ARRAY);
    assert_int_equal(value->as.array.elem_type, TINFER_META_I32);
    assert_int_equal(value->as.array.n_elems, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tf_meta_array_i64(&value->as.array, i), want[i]);
}

static void test_llama_3_2_1b(void **state) {
    (void)state;
    tf_metadata m = read_ok(LLAMA_3_2_1B);
    expect_str(&m, "general.architecture", "llama");
    expect_u32(&m, "llama.context_length", 131072);
    expect_u32(&m, "llama.embedding_length", 2048);
    expect_u32(&m, "llama.block_count", 16);
    expect_u32(&m, "llama.feed_forward_length", 8192);
    expect_u32(&m, "llama.attention.head_count", 32);
    expect_u32(&m, "llama.attention.head_count_kv", 8);
    expect_u32(&m, "llama.attention.key_length", 64);
    expect_u32(&m, "llama.attention.value_length", 64);
    expect_f32(&m, "llama.attention.layer_norm_rms_epsilon", 1e-5);
    expect_f32(&m, "llama.rope.freq_base", 500000.0);
    expect_u32(&m, "llama.vocab_size", 128256);
    expect_str(&m, "llama.rope.scaling.type", "llama3");
    expect_f32(&m, "llama.rope.scaling.factor", 32.0);
    expect_f32(&m, "llama.rope.scaling.low_freq_factor", 1.0);
    expect_f32(&m, "llama.rope.scaling.high_freq_factor", 4.0);
    expect_u32(&m, "llama.rope.scaling.original_context_length", 8192);
    expect_bool(&m, "llama.tie_word_embeddings", true);
    expect_u32(&m, "tokenizer.ggml.bos_token_id", 128000);
    expect_u32(&m, "tokenizer.ggml.eos_token_id", 128001);
    int32_t eos[] = {128001};
    expect_eos_list(&m, eos, 1);
    expect_absent(&m, "llama.attention.sliding_window");
    expect_absent(&m, "llama.final_logit_softcapping");
    tf_metadata_free(&m);
}

static void test_qwen2_5_0_5b(void **state) {
    (void)state;
    tf_metadata m = read_ok(QWEN2_5_0_5B);
    expect_str(&m, "general.architecture", "qwen2");
    expect_u32(&m, "qwen2.context_length", 32768);
    expect_u32(&m, "qwen2.embedding_length", 896);
    expect_u32(&m, "qwen2.block_count", 24);
    expect_u32(&m, "qwen2.feed_forward_length", 4864);
    expect_u32(&m, "qwen2.attention.head_count", 14);
    expect_u32(&m, "qwen2.attention.head_count_kv", 2);
    expect_u32(&m, "qwen2.attention.key_length", 64); /* 896 / 14 */
    expect_u32(&m, "qwen2.attention.value_length", 64);
    expect_f32(&m, "qwen2.attention.layer_norm_rms_epsilon", 1e-6);
    expect_f32(&m, "qwen2.rope.freq_base", 1000000.0);
    expect_u32(&m, "qwen2.vocab_size", 151936);
    expect_bool(&m, "qwen2.tie_word_embeddings", true);
    expect_u32(&m, "tokenizer.ggml.eos_token_id", 151643);
    expect_absent(&m, "qwen2.attention.sliding_window"); /* use_sliding_window is false */
    expect_absent(&m, "qwen2.rope.scaling.type");
    tf_metadata_free(&m);
}

static void test_qwen3_0_6b(void **state) {
    (void)state;
    tf_metadata m = read_ok(QWEN3_0_6B);
    expect_str(&m, "general.architecture", "qwen3");
    expect_u32(&m, "qwen3.context_length", 40960);
    expect_u32(&m, "qwen3.embedding_length", 1024);
    expect_u32(&m, "qwen3.block_count", 28);
    expect_u32(&m, "qwen3.feed_forward_length", 3072);
    expect_u32(&m, "qwen3.attention.head_count", 16);
    expect_u32(&m, "qwen3.attention.head_count_kv", 8);
    expect_u32(&m, "qwen3.attention.key_length", 128);
    expect_u32(&m, "qwen3.attention.value_length", 128);
    expect_f32(&m, "qwen3.rope.freq_base", 1000000.0);
    expect_u32(&m, "qwen3.vocab_size", 151936);
    expect_u32(&m, "tokenizer.ggml.bos_token_id", 151643);
    expect_u32(&m, "tokenizer.ggml.eos_token_id", 151645);
    expect_absent(&m, "qwen3.attention.sliding_window");
    tf_metadata_free(&m);
}

static void test_gemma_3_270m(void **state) {
    (void)state;
    tf_metadata m = read_ok(GEMMA_3_270M);
    expect_str(&m, "general.architecture", "gemma3");
    expect_u32(&m, "gemma3.context_length", 32768);
    expect_u32(&m, "gemma3.embedding_length", 640);
    expect_u32(&m, "gemma3.block_count", 18);
    expect_u32(&m, "gemma3.feed_forward_length", 2048);
    expect_u32(&m, "gemma3.attention.head_count", 4);
    expect_u32(&m, "gemma3.attention.head_count_kv", 1);
    expect_u32(&m, "gemma3.attention.key_length", 256);
    expect_u32(&m, "gemma3.attention.value_length", 256);
    expect_f32(&m, "gemma3.attention.layer_norm_rms_epsilon", 1e-6);
    expect_f32(&m, "gemma3.rope.freq_base", 1000000.0);
    expect_u32(&m, "gemma3.attention.sliding_window", 512);
    expect_f32(&m, "gemma3.rope.local_freq_base", 10000.0);
    expect_f32(&m, "gemma3.attention.query_pre_attn_scalar", 256.0);
    expect_u32(&m, "gemma3.vocab_size", 262144);
    expect_bool(&m, "gemma3.tie_word_embeddings", true); /* Gemma3TextConfig's default */
    expect_u32(&m, "tokenizer.ggml.bos_token_id", 2);
    expect_u32(&m, "tokenizer.ggml.eos_token_id", 1);
    expect_absent(&m, "gemma3.final_logit_softcapping");
    expect_absent(&m, "gemma3.attn_logit_softcapping");
    expect_absent(&m, "gemma3.rope.scaling.type");
    tf_metadata_free(&m);
}

static void test_gemma3_nested_text_config(void **state) {
    (void)state;
    tf_metadata m = read_ok(GEMMA_3_4B_NESTED);
    expect_str(&m, "general.architecture", "gemma3");
    expect_u32(&m, "gemma3.embedding_length", 2560);
    expect_u32(&m, "gemma3.block_count", 34);
    expect_u32(&m, "gemma3.feed_forward_length", 10240);
    expect_u32(&m, "gemma3.attention.head_count", 8); /* defaults of Gemma3TextConfig */
    expect_u32(&m, "gemma3.attention.head_count_kv", 4);
    expect_u32(&m, "gemma3.attention.key_length", 256);
    expect_u32(&m, "gemma3.context_length", 131072);
    expect_u32(&m, "gemma3.vocab_size", 262208);
    expect_u32(&m, "gemma3.attention.sliding_window", 1024);
    expect_str(&m, "gemma3.rope.scaling.type", "linear");
    expect_f32(&m, "gemma3.rope.scaling.factor", 8.0);
    expect_absent(&m, "gemma3.rope.scaling.original_context_length");
    expect_u32(&m, "tokenizer.ggml.eos_token_id", 1);
    int32_t eos[] = {1, 106};
    expect_eos_list(&m, eos, 2);
    tf_metadata_free(&m);
}

/* Model type from architectures[0] alone, defaults for absent fields, softcaps when non-null,
 * a sliding window that is switched on, linear scaling with the older "type" key. */
static void test_defaults_and_variants(void **state) {
    (void)state;
    tf_metadata m = read_ok(
        "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":128,"
        "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":1000,"
        "\"use_sliding_window\":true,\"sliding_window\":4096,\"final_logit_softcapping\":30.0,"
        "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2}}");
    expect_str(&m, "general.architecture", "qwen2");
    expect_u32(&m, "qwen2.attention.head_count_kv", 4);
    expect_u32(&m, "qwen2.attention.key_length", 16);
    expect_u32(&m, "qwen2.context_length", 32768);
    expect_f32(&m, "qwen2.rope.freq_base", 10000.0);
    expect_f32(&m, "qwen2.attention.layer_norm_rms_epsilon", 1e-6);
    expect_bool(&m, "qwen2.tie_word_embeddings", false);
    expect_u32(&m, "qwen2.attention.sliding_window", 4096);
    expect_f32(&m, "qwen2.final_logit_softcapping", 30.0);
    expect_str(&m, "qwen2.rope.scaling.type", "linear");
    expect_f32(&m, "qwen2.rope.scaling.factor", 2.0);
    expect_absent(&m, "tokenizer.ggml.bos_token_id");
    expect_absent(&m, "tokenizer.hf.eos_token_ids");
    tf_metadata_free(&m);

    m = read_ok("{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":128,"
                "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":1000,"
                "\"eos_token_id\":[7,8,9],\"bos_token_id\":null}");
    expect_u32(&m, "llama.context_length", 2048);
    int32_t eos[] = {7, 8, 9};
    expect_eos_list(&m, eos, 3);
    expect_u32(&m, "tokenizer.ggml.eos_token_id", 7);
    expect_absent(&m, "tokenizer.ggml.bos_token_id");
    tf_metadata_free(&m);
}

/* transformers 5 writes rope_theta and rope scaling inside "rope_parameters", one block per
 * attention kind for Gemma 3. */
static void test_rope_parameters(void **state) {
    (void)state;
    tf_metadata m = read_ok(
        "{\"model_type\":\"gemma3_text\",\"hidden_size\":64,\"intermediate_size\":128,"
        "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":1,"
        "\"head_dim\":16,\"vocab_size\":1000,\"rope_parameters\":{"
        "\"full_attention\":{\"rope_type\":\"linear\",\"factor\":8.0,\"rope_theta\":1000000.0},"
        "\"sliding_attention\":{\"rope_type\":\"default\",\"rope_theta\":10000.0}}}");
    expect_f32(&m, "gemma3.rope.freq_base", 1000000.0);
    expect_f32(&m, "gemma3.rope.local_freq_base", 10000.0);
    expect_str(&m, "gemma3.rope.scaling.type", "linear");
    expect_f32(&m, "gemma3.rope.scaling.factor", 8.0);
    tf_metadata_free(&m);

    /* A flat block is the global layers'; local layers keep Gemma 3's default base. */
    m = read_ok("{\"model_type\":\"gemma3_text\",\"hidden_size\":64,\"intermediate_size\":128,"
                "\"num_hidden_layers\":2,\"rope_parameters\":{\"rope_type\":\"default\","
                "\"rope_theta\":500000}}");
    expect_f32(&m, "gemma3.rope.freq_base", 500000.0);
    expect_f32(&m, "gemma3.rope.local_freq_base", 10000.0);
    expect_absent(&m, "gemma3.rope.scaling.type");
    tf_metadata_free(&m);

    m = read_ok("{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":128,"
                "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":1000,"
                "\"rope_parameters\":{\"rope_type\":\"llama3\",\"rope_theta\":500000.0,"
                "\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                "\"original_max_position_embeddings\":8192}}");
    expect_f32(&m, "llama.rope.freq_base", 500000.0);
    expect_str(&m, "llama.rope.scaling.type", "llama3");
    expect_u32(&m, "llama.rope.scaling.original_context_length", 8192);
    tf_metadata_free(&m);
}

static void test_config_file_on_disk(void **state) {
    (void)state;
    char path[512];
    st_fixture_tmp_path("test_hf_config.json", path, sizeof path);
    assert_int_equal(st_fixture_write_text(path, QWEN3_0_6B), 0);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(tf_read_text_file(path, 1 << 20, &text, &len), TINFER_OK);
    tf_metadata m = read_ok(text);
    expect_u32(&m, "qwen3.block_count", 28);
    tf_metadata_free(&m);
    free(text);
    remove(path);
}

/* ---- malformed ---- */

/* Fields of a small valid llama config; each case replaces or adds one. */
#define BASE_FIELDS                                                               \
    "\"model_type\":\"llama\",\"intermediate_size\":128,\"num_hidden_layers\":2," \
    "\"num_attention_heads\":4,\"vocab_size\":1000"

static void expect_config_error(const char *text, tinfer_status want, const char *substring) {
    tf_metadata meta = {0};
    tinfer_status got = tf_hf_config_read(text, strlen(text), &meta);
    if (got != want)
        fail_msg("%s: got %s (%s), want %s", text, tinfer_status_str(got), tinfer_last_error(),
                 tinfer_status_str(want));
    const char *message = tinfer_last_error();
    if (strncmp(message, "config.json: ", 13) != 0 || !strstr(message, substring))
        fail_msg("message '%s' lacks 'config.json: ' or '%s'", message, substring);
    tf_metadata_free(&meta);
}

static void test_config_malformed(void **state) {
    (void)state;
    expect_config_error("{" BASE_FIELDS "}", TINFER_E_FORMAT, "missing field 'hidden_size'");
    expect_config_error("{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":128,"
                        "\"num_hidden_layers\":\"16\",\"num_attention_heads\":4,"
                        "\"vocab_size\":1000}",
                        TINFER_E_FORMAT, "field 'num_hidden_layers' must be an integer");
    expect_config_error("{\"model_type\":\"mistral\",\"hidden_size\":64}", TINFER_E_UNSUPPORTED,
                        "model_type 'mistral' is not supported");
    expect_config_error("{\"architectures\":[\"FooForCausalLM\"]}", TINFER_E_UNSUPPORTED,
                        "architecture 'FooForCausalLM' is not supported");
    expect_config_error("{\"hidden_size\":64}", TINFER_E_FORMAT, "missing field 'model_type'");
    expect_config_error("{\"model_type\":3}", TINFER_E_FORMAT,
                        "field 'model_type' must be a string");
    expect_config_error("{\"architectures\":\"LlamaForCausalLM\"}", TINFER_E_FORMAT,
                        "'architectures' must be a non-empty list of strings");
    expect_config_error("{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":128,"
                        "\"num_hidden_layers\":2,\"num_attention_heads\":4}",
                        TINFER_E_FORMAT, "missing field 'vocab_size'");
    expect_config_error("{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":128,"
                        "\"num_hidden_layers\":2,\"vocab_size\":1000}",
                        TINFER_E_FORMAT, "missing field 'num_attention_heads'");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":0}", TINFER_E_FORMAT,
                        "field 'hidden_size' = 0 is outside 1..2147483647");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":4294967296}", TINFER_E_FORMAT,
                        "field 'hidden_size' = 4294967296 is outside");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64.5}", TINFER_E_FORMAT,
                        "field 'hidden_size' must be an integer");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":66}", TINFER_E_FORMAT,
                        "hidden_size 66 is not divisible by num_attention_heads 4");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"num_key_value_heads\":3}",
                        TINFER_E_FORMAT, "num_key_value_heads 3 does not divide");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"num_key_value_heads\":8}",
                        TINFER_E_FORMAT, "num_key_value_heads 8 does not divide");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"rms_norm_eps\":\"1e-5\"}",
                        TINFER_E_FORMAT, "field 'rms_norm_eps' must be a number");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"rms_norm_eps\":2}", TINFER_E_FORMAT,
                        "field 'rms_norm_eps' = 2 is not below 1");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"rope_theta\":-10000.0}",
                        TINFER_E_FORMAT, "field 'rope_theta' = -10000 must be positive");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"rope_theta\":1e300}",
                        TINFER_E_FORMAT, "must be positive and fit in 32 bits");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"tie_word_embeddings\":\"yes\"}",
                        TINFER_E_FORMAT, "field 'tie_word_embeddings' must be true or false");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,"
                        "\"rope_scaling\":{\"rope_type\":\"dynamic\",\"factor\":2.0}}",
                        TINFER_E_UNSUPPORTED, "rope_scaling type 'dynamic' is not supported");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,"
                        "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,"
                        "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}}",
                        TINFER_E_FORMAT, "missing field 'rope_scaling.low_freq_factor'");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,"
                        "\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\":0}}",
                        TINFER_E_FORMAT, "field 'rope_scaling.factor' = 0 must be positive");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"rope_scaling\":\"linear\"}",
                        TINFER_E_FORMAT, "field 'rope_scaling' must be an object");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"eos_token_id\":1000}",
                        TINFER_E_FORMAT,
                        "field 'eos_token_id' (item 0) must be a token id below "
                        "vocab_size 1000");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"eos_token_id\":[5,-1]}",
                        TINFER_E_FORMAT, "field 'eos_token_id' (item 1)");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"bos_token_id\":\"<s>\"}",
                        TINFER_E_FORMAT, "field 'bos_token_id' (item 0)");
    expect_config_error("{\"model_type\":\"qwen2\",\"hidden_size\":64,\"intermediate_size\":128,"
                        "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":1000,"
                        "\"use_sliding_window\":true}",
                        TINFER_E_FORMAT,
                        "use_sliding_window is true but 'sliding_window' is "
                        "missing");
    expect_config_error("{\"model_type\":\"gemma3\",\"text_config\":[1]}", TINFER_E_FORMAT,
                        "field 'text_config' must be an object");
    expect_config_error("{\"model_type\":\"gemma3_text\",\"hidden_size\":64,"
                        "\"intermediate_size\":128,\"num_hidden_layers\":2,\"sliding_window\":0}",
                        TINFER_E_FORMAT, "field 'sliding_window' = 0 is outside");
    expect_config_error("{" BASE_FIELDS ",\"hidden_size\":64,\"hidden_size\":32}", TINFER_E_FORMAT,
                        "duplicate");
    expect_config_error("{\"model_type\":", TINFER_E_FORMAT, "not valid JSON");
    expect_config_error("[\"llama\"]", TINFER_E_FORMAT, "top level must be a JSON object");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_3_2_1b),
        cmocka_unit_test(test_qwen2_5_0_5b),
        cmocka_unit_test(test_qwen3_0_6b),
        cmocka_unit_test(test_gemma_3_270m),
        cmocka_unit_test(test_gemma3_nested_text_config),
        cmocka_unit_test(test_defaults_and_variants),
        cmocka_unit_test(test_rope_parameters),
        cmocka_unit_test(test_config_file_on_disk),
        cmocka_unit_test(test_config_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
