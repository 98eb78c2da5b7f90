/* Repetition, presence and frequency penalties over a window of recent tokens. */
#ifndef TINFER_SAMPLE_PENALTIES_H
#define TINFER_SAMPLE_PENALTIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The last `capacity` accepted tokens, and how often each vocabulary entry occurs among them
 * (kept up to date on every push, so applying the penalties costs O(window), not O(n_vocab)). */
typedef struct tf_token_history {
    int32_t *ring;   /* capacity tokens; the oldest at `first` */
    int32_t *counts; /* n_vocab occurrence counts of the tokens in the ring */
    size_t capacity; /* window length (penalty_last_n); 0 = no history kept */
    size_t size;     /* tokens in the ring now (≤ capacity) */
    size_t first;    /* ring index of the oldest token */
} tf_token_history;

/* Allocates a window of capacity tokens over a vocabulary of n_vocab; nothing for capacity 0.
 * False when out of memory (h is then left empty and safe to free). */
bool tf_history_init(tf_token_history *h, size_t capacity, size_t n_vocab);
void tf_history_free(tf_token_history *h);
/* Empties the window. */
void tf_history_clear(tf_token_history *h);
/* Appends token (the caller checked 0 ≤ token < n_vocab), evicting the oldest when full. */
void tf_history_push(tf_token_history *h, int32_t token);

typedef struct tf_penalties {
    float repeat;    /* divides positive logits, multiplies the others; 1 = off */
    float presence;  /* subtracted once per distinct token in the window */
    float frequency; /* subtracted once per occurrence in the window */
} tf_penalties;

/* Applies the penalties in place to logits (n_vocab entries) of every token in the window, as
 * llama.cpp does: logit ≤ 0 → logit × repeat, else logit / repeat; then
 * logit −= count × frequency + presence. */
void tf_penalties_apply(tf_token_history *h, const tf_penalties *p, float *logits);

#endif
