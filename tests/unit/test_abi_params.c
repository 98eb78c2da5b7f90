/* The struct rules of the ABI (include/tinfer/tinfer.h): a program compiled against an older,
 * smaller params struct keeps working and its unknown fields get their defaults; a newer header's
 * larger struct is accepted when its extra bytes are zero and refused (E_UNSUPPORTED) otherwise;
 * sizes no version has are E_INVALID_ARG; *_params_init writes only the bytes it is given; info
 * structs have the tail of a larger caller buffer zeroed; chat messages are walked by the
 * caller's stride. The old and new layouts are declared here as programs of those versions
 * would have them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */

#include "synthetic_model.h"
#include "tinfer/tinfer.h"

/* tinfer_context_params as 0.1 declared it: the five fields before device and device_index. */
typedef struct context_params_v0_1 {
    uint32_t n_ctx;
    uint32_t n_seq_max;
    uint32_t n_threads;
    tinfer_kv_dtype kv_dtype;
    uint32_t n_batch;
} context_params_v0_1;

/* tinfer_sampler_params as 0.1 declared it (unchanged since). */
typedef struct sampler_params_v0_1 {
    float temperature;
    int32_t top_k;
    float top_p;
    float min_p;
    float repeat_penalty;
    float presence_penalty;
    float frequency_penalty;
    int32_t penalty_last_n;
    uint64_t seed;
} sampler_params_v0_1;

/* A later header's structs: today's fields, then one this library does not know. */
typedef struct context_params_next {
    tinfer_context_params current;
    uint64_t future_field;
} context_params_next;

typedef struct sampler_params_next {
    tinfer_sampler_params current;
    float future_field;
} sampler_params_next;

typedef struct chat_msg_next {
    const char *role;
    const char *content;
    const char *future_field;
} chat_msg_next;

static const int32_t PROMPT[] = {1, 17, 42, 90, 5, 63, 7, 8};
enum { N_PROMPT = sizeof PROMPT / sizeof PROMPT[0], GUARD = 0xAB };

static tinfer_model *model;
static size_t n_vocab;

static int load_model(void **state) {
    (void)state;
    synth_spec spec = synth_gemma3();
    char path[4096];
    if (!synth_write(&spec, "abi_params_gemma3.gguf", path, sizeof path)) return -1;
    if (tinfer_model_load(path, NULL, 0, &model) != TINFER_OK) return -1;
    n_vocab = spec.n_vocab;
    return 0;
}

static int free_model(void **state) {
    (void)state;
    tinfer_model_free(model);
    return 0;
}

static bool all_bytes(const unsigned char *bytes, size_t n, unsigned char value) {
    for (size_t i = 0; i < n; i++)
        if (bytes[i] != value) return false;
    return true;
}

/* The prompt's last logits from a context made with params of the stated size. */
static void prompt_logits(const void *params, size_t params_size, float *out) {
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, params, params_size, &ctx), TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 0, PROMPT, N_PROMPT), TINFER_OK);
    const float *logits = tinfer_logits(ctx, 0);
    assert_non_null(logits);
    memcpy(out, logits, n_vocab * sizeof *out);
    tinfer_context_free(ctx);
}

static void old_context_params_work_and_get_the_new_defaults(void **state) {
    (void)state;
    /* The 0.1 struct sits right before bytes that would be an invalid device if they were read. */
    struct {
        context_params_v0_1 p;
        unsigned char after[16];
    } old;
    memset(&old, GUARD, sizeof old);
    tinfer_context_params_init((tinfer_context_params *)&old.p, sizeof old.p);
    assert_true(all_bytes(old.after, sizeof old.after, GUARD)); /* nothing past size */
    assert_int_equal(old.p.n_ctx, 4096);
    assert_int_equal(old.p.n_seq_max, 1);
    assert_int_equal(old.p.n_threads, 0);
    assert_int_equal(old.p.kv_dtype, TINFER_KV_F16);
    assert_int_equal(old.p.n_batch, 512);
    old.p.n_ctx = 64;
    old.p.kv_dtype = TINFER_KV_F32;

    tinfer_context_params full;
    tinfer_context_params_init(&full, sizeof full);
    assert_int_equal(full.device, TINFER_DEVICE_CPU);
    assert_int_equal(full.device_index, 0);
    full.n_ctx = 64;
    full.kv_dtype = TINFER_KV_F32;

    /* Same model, same settings, the device left to its default (the CPU): the same logits. */
    float from_old[96], from_full[96];
    assert_int_equal(n_vocab, 96);
    prompt_logits(&old.p, sizeof old.p, from_old);
    prompt_logits(&full, sizeof full, from_full);
    assert_memory_equal(from_old, from_full, sizeof from_old);

    /* and a decode step after it works too */
    tinfer_context *ctx = NULL;
    assert_int_equal(
        tinfer_context_create(model, (const tinfer_context_params *)&old.p, sizeof old.p, &ctx),
        TINFER_OK);
    assert_int_equal(tinfer_prefill(ctx, 0, PROMPT, N_PROMPT), TINFER_OK);
    const int32_t seq = 0, token = 3;
    assert_int_equal(tinfer_decode(ctx, &seq, &token, 1), TINFER_OK);
    size_t n = 0;
    assert_int_equal(tinfer_kv_seq_len(ctx, 0, &n), TINFER_OK);
    assert_int_equal(n, N_PROMPT + 1);
    tinfer_context_free(ctx);
}

static void sizes_no_version_has_are_invalid(void **state) {
    (void)state;
    tinfer_context_params p;
    tinfer_context_params_init(&p, sizeof p);
    tinfer_context *ctx = NULL;
    assert_int_equal(tinfer_context_create(model, &p, 0, &ctx), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_context_create(model, &p, 4, &ctx), TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "smaller than the first version"));
    assert_int_equal(
        tinfer_context_create(model, &p, offsetof(tinfer_context_params, device) + 2, &ctx),
        TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "ends inside tinfer_context_params.device"));
    assert_int_equal(tinfer_context_create(model, &p, (size_t)1 << 20, &ctx), TINFER_E_INVALID_ARG);
    assert_null(ctx);
    /* NULL params are the defaults, whatever the size */
    assert_int_equal(tinfer_context_create(model, NULL, 0, &ctx), TINFER_OK);
    tinfer_context_free(ctx);

    tinfer_sampler *s = NULL;
    tinfer_sampler_params sp;
    tinfer_sampler_params_init(&sp, sizeof sp);
    assert_int_equal(tinfer_sampler_create(&sp, sizeof sp - 8, n_vocab, &s), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_sampler_create(&sp, 3, n_vocab, &s), TINFER_E_INVALID_ARG);
    assert_null(s);

    tinfer_model_params mp;
    tinfer_model_params_init(&mp, sizeof mp);
    assert_true(mp.use_mmap);
    tinfer_model *m = NULL;
    assert_int_equal(tinfer_model_load("unused.gguf", &mp, 0, &m), TINFER_E_INVALID_ARG);
    assert_non_null(strstr(tinfer_last_error(), "tinfer_model_params"));
    assert_null(m);
}

static void newer_params_need_zero_extra_fields(void **state) {
    (void)state;
    context_params_next next;
    memset(&next, 0xFF, sizeof next);
    tinfer_context_params_init((tinfer_context_params *)&next, sizeof next);
    assert_int_equal(next.current.n_ctx, 4096);
    assert_int_equal(next.future_field, 0); /* zeroed: "not set" */
    next.current.n_ctx = 64;
    tinfer_context *ctx = NULL;
    assert_int_equal(
        tinfer_context_create(model, (tinfer_context_params *)&next, sizeof next, &ctx), TINFER_OK);
    tinfer_context_free(ctx);
    ctx = NULL;
    next.future_field = 1;
    assert_int_equal(
        tinfer_context_create(model, (tinfer_context_params *)&next, sizeof next, &ctx),
        TINFER_E_UNSUPPORTED);
    assert_non_null(strstr(tinfer_last_error(), "params carry fields this library does not know"));
    assert_null(ctx);

    sampler_params_next snext;
    tinfer_sampler_params_init((tinfer_sampler_params *)&snext, sizeof snext);
    tinfer_sampler *s = NULL;
    assert_int_equal(
        tinfer_sampler_create((tinfer_sampler_params *)&snext, sizeof snext, n_vocab, &s),
        TINFER_OK);
    tinfer_sampler_free(s);
    s = NULL;
    snext.future_field = 0.5f;
    assert_int_equal(
        tinfer_sampler_create((tinfer_sampler_params *)&snext, sizeof snext, n_vocab, &s),
        TINFER_E_UNSUPPORTED);
    assert_null(s);
}

static void old_sampler_params_sample_as_the_current_ones(void **state) {
    (void)state;
    sampler_params_v0_1 old;
    tinfer_sampler_params_init((tinfer_sampler_params *)&old, sizeof old);
    assert_true(old.temperature == 0.8f && old.top_k == 40 && old.penalty_last_n == 64);
    old.seed = 7;
    tinfer_sampler_params cur;
    tinfer_sampler_params_init(&cur, sizeof cur);
    cur.seed = 7;
    tinfer_sampler *a = NULL, *b = NULL;
    assert_int_equal(tinfer_sampler_create((tinfer_sampler_params *)&old, sizeof old, n_vocab, &a),
                     TINFER_OK);
    assert_int_equal(tinfer_sampler_create(&cur, sizeof cur, n_vocab, &b), TINFER_OK);
    float logits[96];
    for (size_t i = 0; i < 96; i++) logits[i] = (float)((i * 37) % 11) * 0.3f;
    for (int step = 0; step < 20; step++) {
        int32_t ta = -1, tb = -2;
        assert_int_equal(tinfer_sampler_sample(a, logits, n_vocab, &ta), TINFER_OK);
        assert_int_equal(tinfer_sampler_sample(b, logits, n_vocab, &tb), TINFER_OK);
        assert_int_equal(ta, tb);
    }
    tinfer_sampler_free(a);
    tinfer_sampler_free(b);
}

static void init_writes_only_whole_fields_within_size(void **state) {
    (void)state;
    unsigned char bytes[sizeof(tinfer_context_params) + 8];
    memset(bytes, GUARD, sizeof bytes);
    const size_t cut = offsetof(tinfer_context_params, device) + 2; /* inside device */
    tinfer_context_params_init((tinfer_context_params *)bytes, cut);
    uint32_t n_batch;
    memcpy(&n_batch, bytes + offsetof(tinfer_context_params, n_batch), sizeof n_batch);
    assert_int_equal(n_batch, 512);
    assert_true(all_bytes(bytes + offsetof(tinfer_context_params, device), 2, 0));
    assert_true(all_bytes(bytes + cut, sizeof bytes - cut, GUARD));
    /* NULL, and a size no struct has, write nothing */
    tinfer_context_params_init(NULL, sizeof(tinfer_context_params));
    memset(bytes, GUARD, sizeof bytes);
    tinfer_sampler_params_init((tinfer_sampler_params *)bytes, (size_t)1 << 20);
    assert_true(all_bytes(bytes, sizeof bytes, GUARD));
}

static void info_tails_are_zeroed(void **state) {
    (void)state;
    struct {
        tinfer_model_info info;
        unsigned char tail[40];
    } big;
    memset(&big, GUARD, sizeof big);
    assert_int_equal(tinfer_model_get_info(model, &big.info, sizeof big), TINFER_OK);
    assert_string_equal(big.info.architecture, "gemma3");
    assert_int_equal(big.info.n_vocab, 96);
    assert_true(all_bytes(big.tail, sizeof big.tail, 0));

    /* an older, smaller info struct: written up to its size, nothing after */
    memset(&big, GUARD, sizeof big);
    const size_t small = offsetof(tinfer_model_info, n_vocab);
    assert_int_equal(tinfer_model_get_info(model, &big.info, small), TINFER_OK);
    assert_string_equal(big.info.architecture, "gemma3");
    assert_true(all_bytes((unsigned char *)&big + small, sizeof big - small, GUARD));

    struct {
        tinfer_tensor_info info;
        unsigned char tail[24];
    } tensor;
    memset(&tensor, GUARD, sizeof tensor);
    assert_int_equal(tinfer_model_tensor(model, 0, &tensor.info, sizeof tensor), TINFER_OK);
    assert_non_null(tensor.info.name);
    assert_true(all_bytes(tensor.tail, sizeof tensor.tail, 0));

    assert_int_equal(tinfer_model_get_info(model, &big.info, 0), TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_model_tensor(model, 0, &tensor.info, (size_t)1 << 20),
                     TINFER_E_INVALID_ARG);
}

static void chat_messages_are_walked_by_stride(void **state) {
    (void)state;
    char dir[4096];
    if (!test_source_path(dir, sizeof dir, "tests/data/tokenizers/qwen3")) {
        skip();
        return;
    }
    tinfer_tokenizer *tok = NULL;
    assert_int_equal(tinfer_tokenizer_load(dir, &tok), TINFER_OK);
    const tinfer_chat_msg msgs[] = {{"system", "Be brief."}, {"user", "Hi"}};
    char packed[512], strided[512];
    size_t packed_len = 0, strided_len = 0;
    assert_int_equal(
        tinfer_chat_apply(tok, msgs, 2, sizeof msgs[0], true, packed, sizeof packed, &packed_len),
        TINFER_OK);
    assert_non_null(strstr(packed, "Be brief."));

    chat_msg_next next[] = {{"system", "Be brief.", NULL}, {"user", "Hi", NULL}};
    assert_int_equal(tinfer_chat_apply(tok, (const tinfer_chat_msg *)next, 2, sizeof next[0], true,
                                       strided, sizeof strided, &strided_len),
                     TINFER_OK);
    assert_int_equal(strided_len, packed_len);
    assert_string_equal(strided, packed);

    next[1].future_field = "?";
    assert_int_equal(tinfer_chat_apply(tok, (const tinfer_chat_msg *)next, 2, sizeof next[0], true,
                                       strided, sizeof strided, &strided_len),
                     TINFER_E_UNSUPPORTED);
    assert_non_null(strstr(tinfer_last_error(), "msgs[1]"));
    assert_int_equal(tinfer_chat_apply(tok, msgs, 2, sizeof(const char *), true, strided,
                                       sizeof strided, &strided_len),
                     TINFER_E_INVALID_ARG);
    assert_int_equal(tinfer_chat_apply(tok, msgs, 2, sizeof msgs[0] + 1000000, true, strided,
                                       sizeof strided, &strided_len),
                     TINFER_E_INVALID_ARG);
    tinfer_tokenizer_free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(old_context_params_work_and_get_the_new_defaults),
        cmocka_unit_test(sizes_no_version_has_are_invalid),
        cmocka_unit_test(newer_params_need_zero_extra_fields),
        cmocka_unit_test(old_sampler_params_sample_as_the_current_ones),
        cmocka_unit_test(init_writes_only_whole_fields_within_size),
        cmocka_unit_test(info_tails_are_zeroed),
        cmocka_unit_test(chat_messages_are_walked_by_stride),
    };
    return cmocka_run_group_tests(tests, load_model, free_model);
}
