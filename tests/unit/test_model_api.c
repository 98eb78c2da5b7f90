/* The public model API end to end: loading each kind of path, info, metadata, the tensor table,
 * sharded checkpoints, and argument/input errors. Files are written by the fixture writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "fixtures/gguf_writer.h"
#include "fixtures/safetensors_writer.h"
#include "fixtures/test_env.h"
#include "tinfer/tinfer.h"

static const char LLAMA_CONFIG[] =
    "{\"model_type\": \"llama\", \"architectures\": [\"LlamaForCausalLM\"],"
    " \"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
    " \"num_key_value_heads\": 2, \"intermediate_size\": 128, \"vocab_size\": 100,"
    " \"max_position_embeddings\": 256, \"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0}";

static const char *write_small_gguf(char *path, size_t cap) {
    test_tmp_path(path, cap, "model_api_small.gguf");
    gguf_writer *w = gw_new();
    gw_kv_str(w, "general.architecture", "qwen3");
    gw_kv_str(w, "general.name", "tiny");
    gw_kv_u32(w, "qwen3.embedding_length", 64);
    gw_kv_u32(w, "qwen3.attention.head_count", 4);
    gw_kv_u32(w, "qwen3.attention.head_count_kv", 2);
    gw_kv_u32(w, "qwen3.block_count", 1);
    gw_kv_f32(w, "qwen3.rope.freq_base", 1000000.0f);
    const char *tokens[] = {"a", "b", "c"};
    gw_kv_str_array(w, "tokenizer.ggml.tokens", 3, tokens);
    float weights[64 * 3];
    for (size_t i = 0; i < 64 * 3; i++) weights[i] = (float)i;
    gw_tensor(w, "token_embd.weight", TINFER_DTYPE_F32, 2, (const uint64_t[]){64, 3}, weights,
              sizeof weights);
    gw_tensor(w, "output_norm.weight", TINFER_DTYPE_F32, 1, (const uint64_t[]){64}, weights,
              64 * sizeof(float));
    assert_true(gw_write_file(w, path));
    gw_free(w);
    return path;
}

static void gguf_model_info_metadata_and_tensors(void **state) {
    (void)state;
    char path[512];
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(write_small_gguf(path, sizeof path), NULL, 0, &model),
                     TINFER_OK);
    tinfer_model_info info;
    assert_int_equal(tinfer_model_get_info(model, &info, sizeof info), TINFER_OK);
    assert_string_equal(info.architecture, "qwen3");
    assert_string_equal(info.name, "tiny");
    assert_int_equal(info.format, TINFER_FORMAT_GGUF);
    assert_int_equal(info.gguf_version, 3);
    assert_int_equal(info.n_tensors, 2);
    assert_int_equal(info.n_vocab, 3);
    assert_int_equal(info.n_head_kv, 2);
    assert_int_equal(info.head_dim, 16); /* derived: n_embd / n_head */
    assert_int_equal(info.n_params, 64 * 3 + 64);
    assert_int_equal(info.weight_bytes, (64 * 3 + 64) * 4);
    assert_true(info.rope_freq_base == 1000000.0f);

    /* a caller with a smaller (older) struct gets only its prefix written */
    tinfer_model_info partial;
    memset(&partial, 0x5A, sizeof partial);
    assert_int_equal(tinfer_model_get_info(model, &partial, offsetof(tinfer_model_info, gguf_version)),
                     TINFER_OK);
    assert_int_equal(partial.format, TINFER_FORMAT_GGUF);
    assert_int_equal(partial.gguf_version, 0x5A5A5A5A);

    size_t index;
    assert_int_equal(tinfer_model_tensor_find(model, "token_embd.weight", &index), TINFER_OK);
    tinfer_tensor_info t;
    assert_int_equal(tinfer_model_tensor(model, index, &t, sizeof t), TINFER_OK);
    assert_int_equal(t.n_dims, 2);
    assert_int_equal(t.shape[0], 3); /* row-major: ne reversed */
    assert_int_equal(t.shape[1], 64);
    assert_true(((const float *)t.data)[65] == 65.0f);
    assert_int_equal(tinfer_model_tensor_find(model, "nope", &index), TINFER_E_NOT_FOUND);
    assert_int_equal(tinfer_model_tensor(model, 99, &t, sizeof t), TINFER_E_INVALID_ARG);

    int64_t n_embd;
    assert_int_equal(tinfer_model_meta_int(model, "qwen3.embedding_length", &n_embd), TINFER_OK);
    assert_int_equal(n_embd, 64);
    assert_int_equal(tinfer_model_meta_int(model, "general.name", &n_embd), TINFER_E_TYPE);
    assert_int_equal(tinfer_model_meta_int(model, "absent", &n_embd), TINFER_E_NOT_FOUND);
    assert_null(tinfer_model_meta_str(model, "qwen3.embedding_length"));
    assert_int_equal(tinfer_model_meta_find(model, "tokenizer.ggml.tokens", &index), TINFER_OK);
    tinfer_meta_type type, elem_type;
    uint64_t n_elems;
    assert_int_equal(tinfer_model_meta_type(model, index, &type, &elem_type, &n_elems), TINFER_OK);
    assert_int_equal(type, TINFER_META_ARRAY);
    assert_int_equal(elem_type, TINFER_META_STRING);
    assert_int_equal(n_elems, 3);

    char text[64];
    size_t len;
    assert_int_equal(tinfer_model_meta_array_elem(model, index, 2, text, sizeof text, &len), TINFER_OK);
    assert_string_equal(text, "c");
    assert_int_equal(tinfer_model_meta_format(model, index, 2, text, sizeof text, &len), TINFER_OK);
    assert_string_equal(text, "[a, b, … (3 total)]");
    /* too small: the size needed comes back, the buffer stays NUL-terminated */
    assert_int_equal(tinfer_model_meta_format(model, index, 2, text, 4, &len),
                     TINFER_E_BUFFER_TOO_SMALL);
    assert_int_equal(len, strlen("[a, b, … (3 total)]"));
    assert_int_equal(strlen(text), 3);
    tinfer_model_free(model);
}

static void make_dir(const char *name, char *path, size_t cap) {
    test_tmp_path(path, cap, name);
    mkdir(path, 0755);
}

static void write_in_dir(const char *dir, const char *name, const void *bytes, size_t size) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(test_write_file(path, bytes, size), 0);
}

static void write_shard(const char *dir, const char *name, const char *tensor_name, float value) {
    float data[4] = {value, value, value, value};
    st_fixture_tensor tensor = {tensor_name, "F32", 2, {2, 2}, data, sizeof data};
    size_t size;
    uint8_t *bytes = st_fixture_build(&tensor, 1, NULL, 0, &size);
    write_in_dir(dir, name, bytes, size);
    free(bytes);
}

static void hf_directory_with_sharded_safetensors(void **state) {
    (void)state;
    char dir[512];
    make_dir("model_api_hf_sharded", dir, sizeof dir);
    write_in_dir(dir, "config.json", LLAMA_CONFIG, strlen(LLAMA_CONFIG));
    write_shard(dir, "model-00001-of-00002.safetensors", "model.embed_tokens.weight", 1.0f);
    write_shard(dir, "model-00002-of-00002.safetensors", "lm_head.weight", 2.0f);
    const char index[] =
        "{\"metadata\": {\"total_size\": 32}, \"weight_map\": {"
        "\"model.embed_tokens.weight\": \"model-00001-of-00002.safetensors\","
        "\"lm_head.weight\": \"model-00002-of-00002.safetensors\"}}";
    write_in_dir(dir, "model.safetensors.index.json", index, strlen(index));

    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(dir, NULL, 0, &model), TINFER_OK);
    tinfer_model_info info;
    tinfer_model_get_info(model, &info, sizeof info);
    assert_int_equal(info.format, TINFER_FORMAT_SAFETENSORS);
    assert_string_equal(info.architecture, "llama");
    assert_int_equal(info.n_embd, 64);
    assert_int_equal(info.n_head_kv, 2);
    assert_int_equal(info.n_vocab, 100);
    assert_int_equal(info.n_tensors, 2);
    size_t index_of_head;
    assert_int_equal(tinfer_model_tensor_find(model, "lm_head.weight", &index_of_head), TINFER_OK);
    tinfer_tensor_info t;
    tinfer_model_tensor(model, index_of_head, &t, sizeof t);
    assert_true(((const float *)t.data)[3] == 2.0f);
    tinfer_model_free(model);
}

static void hf_directory_reading_files_without_mmap(void **state) {
    (void)state;
    char dir[512];
    make_dir("model_api_hf_single", dir, sizeof dir);
    write_in_dir(dir, "config.json", LLAMA_CONFIG, strlen(LLAMA_CONFIG));
    write_shard(dir, "model.safetensors", "model.norm.weight", 3.0f);
    tinfer_model_params params;
    tinfer_model_params_init(&params, sizeof params);
    assert_true(params.use_mmap);
    params.use_mmap = false;
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(dir, &params, sizeof params, &model), TINFER_OK);
    assert_int_equal(tinfer_model_tensor_count(model), 1);
    tinfer_model_free(model);
}

static void expect_load_error(const char *path, tinfer_status expected, const char *substring) {
    tinfer_model *model = (tinfer_model *)0x1;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), expected);
    assert_ptr_equal(model, (tinfer_model *)0x1); /* untouched on failure */
    if (!strstr(tinfer_last_error(), substring)) fail_msg("message '%s' lacks '%s'", tinfer_last_error(), substring);
}

static void load_errors_are_clear(void **state) {
    (void)state;
    char path[512], dir[512];
    expect_load_error("/nonexistent/model.gguf", TINFER_E_IO, "cannot open");
    make_dir("model_api_empty_dir", dir, sizeof dir);
    expect_load_error(dir, TINFER_E_IO, "no config.json");
    make_dir("model_api_no_weights", dir, sizeof dir);
    write_in_dir(dir, "config.json", LLAMA_CONFIG, strlen(LLAMA_CONFIG));
    expect_load_error(dir, TINFER_E_IO, "model.safetensors");
    test_tmp_path(path, sizeof path, "model_api_text.bin");
    test_write_file(path, "hello, not a model", 18);
    expect_load_error(path, TINFER_E_FORMAT, "neither a GGUF file");
    /* a real GGUF cut in half: the error names the file */
    write_small_gguf(path, sizeof path);
    FILE *file = fopen(path, "rb");
    uint8_t bytes[4096];
    size_t size = fread(bytes, 1, sizeof bytes, file);
    fclose(file);
    test_tmp_path(path, sizeof path, "model_api_truncated.gguf");
    test_write_file(path, bytes, size / 2);
    expect_load_error(path, TINFER_E_FORMAT, "model_api_truncated.gguf: gguf");
}

static void null_arguments_are_rejected(void **state) {
    (void)state;
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(NULL, NULL, 0, &model), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_model_load("", NULL, 0, &model), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_model_load("x.gguf", NULL, 0, NULL), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_model_get_info(NULL, NULL, 0), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_model_meta_count(NULL), 0);
    assert_int_equal(tinfer_model_tensor_count(NULL), 0);
    assert_null(tinfer_model_meta_key(NULL, 0));
    assert_null(tinfer_model_meta_str(NULL, "k"));
    tinfer_model_free(NULL);
}

static void default_model_when_installed(void **state) {
    (void)state;
    const char *path = test_default_model();
    if (!path) {
        skip();
        return;
    }
    tinfer_model *model = NULL;
    assert_int_equal(tinfer_model_load(path, NULL, 0, &model), TINFER_OK);
    tinfer_model_info info;
    tinfer_model_get_info(model, &info, sizeof info);
    assert_string_equal(info.architecture, "gemma3");
    assert_int_equal(info.n_tensors, 236);
    assert_int_equal(info.n_layer, 18);
    assert_int_equal(info.n_embd, 640);
    assert_int_equal(info.n_head, 4);
    assert_int_equal(info.n_head_kv, 1);
    assert_int_equal(info.head_dim, 256);
    assert_int_equal(info.sliding_window, 512);
    assert_int_equal(info.n_vocab, 262144);

    /* the file has no tokenizer.chat_template: gemma3's one published template is used */
    assert_null(tinfer_model_meta_str(model, "tokenizer.chat_template"));
    const tinfer_chat_msg msgs[] = {{"system", "Be brief."}, {"user", "Hi"}};
    char text[256];
    size_t len;
    assert_int_equal(tinfer_chat_apply(tinfer_model_tokenizer(model), msgs, 2, sizeof msgs[0], true,
                                       text, sizeof text, &len),
                     TINFER_OK);
    assert_string_equal(text, "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
                              "<start_of_turn>model\n");
    tinfer_model_free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gguf_model_info_metadata_and_tensors),
        cmocka_unit_test(hf_directory_with_sharded_safetensors),
        cmocka_unit_test(hf_directory_reading_files_without_mmap),
        cmocka_unit_test(load_errors_are_clear),
        cmocka_unit_test(null_arguments_are_rejected),
        cmocka_unit_test(default_model_when_installed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
