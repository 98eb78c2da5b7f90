/* The CPU backend's pass: its copy of the step descriptor (so the ops read counts, positions and
 * tables from backend memory, as a device's would), the logits' way out, and op timing. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "core/checked.h"
#include "core/error.h"

tinfer_status tf_cpu_pass_alloc(tf_cpu_state *state) {
    tf_cpu_pass *pass = &state->pass;
    const size_t n_batch = state->config.n_batch;
    size_t table_entries;
    if (!tinfer_mul_size(state->config.n_seq_max, state->blocks_per_seq, &table_entries))
        return tf_error(TINFER_E_INVALID_ARG, "cpu backend: n_seq_max × n_ctx overflows");
    pass->tokens = calloc(n_batch, sizeof *pass->tokens);
    pass->positions = calloc(n_batch, sizeof *pass->positions);
    pass->token_seq = calloc(n_batch, sizeof *pass->token_seq);
    pass->out_tokens = calloc(n_batch, sizeof *pass->out_tokens);
    pass->spans_global = calloc(n_batch, sizeof *pass->spans_global);
    pass->spans_local = calloc(n_batch, sizeof *pass->spans_local);
    pass->tables = calloc(table_entries ? table_entries : 1, sizeof *pass->tables);
    pass->local_tables = calloc(table_entries ? table_entries : 1, sizeof *pass->local_tables);
    pass->out_logits = calloc(n_batch, sizeof *pass->out_logits);
    if (!pass->tokens || !pass->positions || !pass->token_seq || !pass->out_tokens ||
        !pass->spans_global || !pass->spans_local || !pass->tables || !pass->local_tables ||
        !pass->out_logits)
        return tf_error(TINFER_E_NOMEM, "cpu backend: out of memory for a pass of %zu tokens",
                        n_batch);
    return TINFER_OK;
}

void tf_cpu_pass_free(tf_cpu_pass *pass) {
    free(pass->tokens);
    free(pass->positions);
    free(pass->token_seq);
    free(pass->out_tokens);
    free(pass->spans_global);
    free(pass->spans_local);
    free(pass->tables);
    free(pass->local_tables);
    free(pass->out_logits);
    *pass = (tf_cpu_pass){0};
}

tinfer_status tf_cpu_begin_pass(tf_backend *be, const tf_step *step) {
    tf_cpu_state *state = be->state;
    tinfer_status status =
        tf_backend_check_step("cpu backend", &state->config, state->blocks_per_seq, step);
    if (status != TINFER_OK) return status;
    tf_cpu_pass *pass = &state->pass;
    const size_t n = step->n_tokens;
    pass->kind = step->kind;
    pass->name = step->name;
    pass->n_tokens = step->n_tokens;
    pass->n_out = step->n_out;
    pass->out_first = 0;
    pass->out_count = step->n_out;
    pass->n_vocab_out = 0;
    memcpy(pass->tokens, step->tokens, n * sizeof *pass->tokens);
    memcpy(pass->positions, step->positions, n * sizeof *pass->positions);
    memcpy(pass->token_seq, step->token_seq, n * sizeof *pass->token_seq);
    memcpy(pass->spans_global, step->spans_global, n * sizeof *pass->spans_global);
    memcpy(pass->spans_local, step->spans_local, n * sizeof *pass->spans_local);
    memcpy(pass->out_tokens, step->out_tokens, step->n_out * sizeof *pass->out_tokens);
    if (step->n_out) memcpy(pass->out_logits, step->out_logits, step->n_out * sizeof(float *));
    const size_t table_bytes = step->n_table_blocks * sizeof(uint32_t);
    for (uint32_t s = 0; s < step->n_seqs; s++) {
        memcpy(pass->tables + (size_t)s * state->blocks_per_seq, step->tables[s], table_bytes);
        memcpy(pass->local_tables + (size_t)s * state->blocks_per_seq, step->local_tables[s],
               table_bytes);
    }
    tf_cpu_rope_tables_reset(state);
    if (be->trace) pass->start_ns = tf_trace_now_ns();
    return TINFER_OK;
}

tinfer_status tf_cpu_end_pass(tf_backend *be) {
    tf_cpu_state *state = be->state;
    const tf_cpu_pass *pass = &state->pass;
    /* The pass's columns: the width of the logits rows it produced (0 when it produced none). */
    if (be->trace)
        tf_trace_record(be->trace, pass->name, -1, pass->n_tokens, pass->n_vocab_out,
                        pass->start_ns);
    return TINFER_OK;
}

tinfer_status tf_cpu_out_select(tf_backend *be, uint32_t first, uint32_t count) {
    tf_cpu_pass *pass = &((tf_cpu_state *)be->state)->pass;
    const tinfer_status status =
        tf_backend_check_out_rows("cpu backend", first, count, pass->n_out);
    if (status != TINFER_OK) return status;
    pass->out_first = first;
    pass->out_count = count;
    return TINFER_OK;
}

tinfer_status tf_cpu_logits_out(tf_backend *be, const float *logits, uint32_t n_vocab) {
    tf_cpu_pass *pass = &((tf_cpu_state *)be->state)->pass;
    for (uint32_t i = 0; i < pass->out_count; i++)
        memcpy(pass->out_logits[pass->out_first + i], logits + (size_t)i * n_vocab,
               (size_t)n_vocab * sizeof(float));
    pass->n_vocab_out = n_vocab;
    return TINFER_OK;
}

tinfer_status tf_cpu_gather_out(tf_backend *be, const float *x, size_t width, float *out) {
    const tf_cpu_pass *pass = &((tf_cpu_state *)be->state)->pass;
    const uint32_t *tokens = pass->out_tokens + pass->out_first;
    for (uint32_t i = 0; i < pass->out_count; i++)
        memcpy(out + i * width, x + (size_t)tokens[i] * width, width * sizeof(float));
    return TINFER_OK;
}

void tf_cpu_op_begin(tf_backend *be) {
    ((tf_cpu_state *)be->state)->op_start_ns = tf_trace_now_ns();
}

void tf_cpu_op_end(tf_backend *be, const char *name, int32_t layer, size_t rows, size_t cols) {
    tf_trace_record(be->trace, name, layer, rows, cols, ((tf_cpu_state *)be->state)->op_start_ns);
}
