/* The candidate set the sampler narrows down: top-k, top-p and min-p over (logit, id) pairs. */
#ifndef TINFER_SAMPLE_CANDIDATES_H
#define TINFER_SAMPLE_CANDIDATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tf_candidate {
    float logit;
    int32_t id;
} tf_candidate;

/* The candidates still in play. `items` is caller-owned scratch of n_vocab entries. */
typedef struct tf_cand_set {
    tf_candidate *items;
    size_t n;    /* candidates kept */
    bool sorted; /* items[0..n) are in rank order: highest logit first, lowest id on ties */
} tf_cand_set;

/* True when a ranks before b: a higher logit, or the same logit and a lower id. A total order,
 * so every filter's result is the same whatever the sort algorithm. */
static inline bool tf_cand_before(tf_candidate a, tf_candidate b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

/* The input of every builder below: logits with no NaN (the sampler maps NaN to -inf first).
 * Tokens whose logit is -inf are never candidates. */

/* Every token with a logit above -inf, in id order (unsorted). */
void tf_cands_gather(tf_cand_set *set, const float *logits, size_t n_vocab);
/* The k best tokens (fewer when fewer are above -inf), sorted. One pass over the logits with a
 * k-entry heap, O(n_vocab log k), never a sort of the whole vocabulary. */
void tf_cands_top_k(tf_cand_set *set, const float *logits, size_t n_vocab, size_t k);
/* Keeps the smallest rank-order prefix whose softmax probabilities (over the set) sum to
 * ≥ top_p, at least one token; leaves the set sorted. An unsorted set is ordered lazily with a
 * heap, O(n + kept log n). top_p ≥ 1 keeps everything. */
void tf_cands_top_p(tf_cand_set *set, float top_p);
/* Keeps the tokens with probability ≥ min_p × the highest probability, i.e. logit ≥ max logit +
 * log(min_p) (llama.cpp's form), keeping order. min_p ≤ 0 keeps everything. */
void tf_cands_min_p(tf_cand_set *set, float min_p);

/* The highest logit in a non-empty set. */
float tf_cands_max_logit(const tf_cand_set *set);

#endif
