/* The token window behind the penalties, and the penalties themselves. */
#include "sample/penalties.h"

#include <stdlib.h>

bool tf_history_init(tf_token_history *h, size_t capacity, size_t n_vocab) {
    *h = (tf_token_history){0};
    if (capacity == 0) return true;
    h->ring = calloc(capacity, sizeof *h->ring);
    h->counts = calloc(n_vocab, sizeof *h->counts);
    if (!h->ring || !h->counts) {
        tf_history_free(h);
        return false;
    }
    h->capacity = capacity;
    return true;
}

void tf_history_free(tf_token_history *h) {
    free(h->ring);
    free(h->counts);
    *h = (tf_token_history){0};
}

static size_t ring_index(const tf_token_history *h, size_t i) {
    return (h->first + i) % h->capacity;
}

void tf_history_clear(tf_token_history *h) {
    for (size_t i = 0; i < h->size; i++) h->counts[h->ring[ring_index(h, i)]] = 0;
    h->size = 0;
    h->first = 0;
}

void tf_history_push(tf_token_history *h, int32_t token) {
    if (h->capacity == 0) return;
    if (h->size == h->capacity) {
        h->counts[h->ring[h->first]]--;
        h->ring[h->first] = token;
        h->first = (h->first + 1) % h->capacity;
    } else {
        h->ring[ring_index(h, h->size)] = token;
        h->size++;
    }
    h->counts[token]++;
}

static float penalized_logit(float logit, int32_t count, const tf_penalties *p) {
    /* Dividing a negative logit would make the token more likely, so those are multiplied. */
    float scaled = logit <= 0.0f ? logit * p->repeat : logit / p->repeat;
    return scaled - ((float)count * p->frequency + p->presence);
}

void tf_penalties_apply(tf_token_history *h, const tf_penalties *p, float *logits) {
    if (h->size == 0) return;
    if (p->repeat == 1.0f && p->presence == 0.0f && p->frequency == 0.0f) return;
    /* A token may sit in the window several times but is penalized once: its count is negated
     * once applied, which marks it done, and restored in a second pass. */
    for (size_t i = 0; i < h->size; i++) {
        int32_t token = h->ring[ring_index(h, i)];
        int32_t count = h->counts[token];
        if (count <= 0) continue;
        logits[token] = penalized_logit(logits[token], count, p);
        h->counts[token] = -count;
    }
    for (size_t i = 0; i < h->size; i++) {
        int32_t token = h->ring[ring_index(h, i)];
        if (h->counts[token] < 0) h->counts[token] = -h->counts[token];
    }
}
