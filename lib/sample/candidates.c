/* Top-k, top-p and min-p over a candidate set, with heaps instead of full sorts. */
#include "sample/candidates.h"

#include <math.h>
#include <string.h>

/* ---- binary heaps over candidates; `best_on_top` picks a max-heap (rank order) or a min-heap */

static bool heap_above(tf_candidate a, tf_candidate b, bool best_on_top) {
    return best_on_top ? tf_cand_before(a, b) : tf_cand_before(b, a);
}

static void swap_cands(tf_candidate *a, tf_candidate *b) {
    tf_candidate t = *a;
    *a = *b;
    *b = t;
}

static void sift_down(tf_candidate *heap, size_t n, size_t i, bool best_on_top) {
    for (;;) {
        size_t top = i, left = 2 * i + 1, right = left + 1;
        if (left < n && heap_above(heap[left], heap[top], best_on_top)) top = left;
        if (right < n && heap_above(heap[right], heap[top], best_on_top)) top = right;
        if (top == i) return;
        swap_cands(&heap[i], &heap[top]);
        i = top;
    }
}

static void sift_up(tf_candidate *heap, size_t i, bool best_on_top) {
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_above(heap[i], heap[parent], best_on_top)) return;
        swap_cands(&heap[i], &heap[parent]);
        i = parent;
    }
}

/* Moves the heap's top to heap[n - 1] and restores the heap over the first n - 1 entries. */
static void heap_pop(tf_candidate *heap, size_t n, bool best_on_top) {
    swap_cands(&heap[0], &heap[n - 1]);
    sift_down(heap, n - 1, 0, best_on_top);
}

/* ---- builders */

void tf_cands_gather(tf_cand_set *set, const float *logits, size_t n_vocab) {
    size_t n = 0;
    for (size_t id = 0; id < n_vocab; id++) {
        if (logits[id] == -INFINITY) continue;
        set->items[n++] = (tf_candidate){logits[id], (int32_t)id};
    }
    set->n = n;
    set->sorted = false;
}

void tf_cands_top_k(tf_cand_set *set, const float *logits, size_t n_vocab, size_t k) {
    /* A min-heap of the k best so far: its top is the one to evict, and most logits lose
     * against it in a single comparison. */
    tf_candidate *heap = set->items;
    size_t n = 0;
    for (size_t id = 0; id < n_vocab && k > 0; id++) {
        if (logits[id] == -INFINITY) continue;
        tf_candidate c = {logits[id], (int32_t)id};
        if (n < k) {
            heap[n] = c;
            sift_up(heap, n++, false);
        } else if (tf_cand_before(c, heap[0])) {
            heap[0] = c;
            sift_down(heap, n, 0, false);
        }
    }
    /* Popping the worst to the back, one by one, leaves the array in rank order. */
    for (size_t m = n; m > 1; m--) heap_pop(heap, m, false);
    set->n = n;
    set->sorted = true;
}

float tf_cands_max_logit(const tf_cand_set *set) {
    if (set->sorted) return set->items[0].logit;
    float max_logit = set->items[0].logit;
    for (size_t i = 1; i < set->n; i++) {
        if (set->items[i].logit > max_logit) max_logit = set->items[i].logit;
    }
    return max_logit;
}

/* Σ exp(logit − max_logit) over the set: the softmax denominator. */
static double softmax_denominator(const tf_cand_set *set, float max_logit) {
    double sum = 0.0;
    for (size_t i = 0; i < set->n; i++) sum += expf(set->items[i].logit - max_logit);
    return sum;
}

/* Length of the shortest sorted prefix whose probabilities reach top_p (at least 1). */
static size_t top_p_prefix_sorted(const tf_cand_set *set, float top_p, float max_logit,
                                  double denominator) {
    double cumulative = 0.0;
    for (size_t i = 0; i < set->n; i++) {
        cumulative += expf(set->items[i].logit - max_logit) / denominator;
        if (cumulative >= top_p) return i + 1;
    }
    return set->n;
}

/* The same for an unsorted set: pops a max-heap until the prefix reaches top_p, then moves the
 * popped candidates (collected at the back, best last) to the front in rank order. */
static size_t top_p_prefix_heap(tf_cand_set *set, float top_p, float max_logit,
                                double denominator) {
    tf_candidate *items = set->items;
    size_t n = set->n, heap_n = n;
    for (size_t i = n / 2; i-- > 0;) sift_down(items, n, i, true);
    double cumulative = 0.0;
    while (heap_n > 0) {
        heap_pop(items, heap_n--, true);
        cumulative += expf(items[heap_n].logit - max_logit) / denominator;
        if (cumulative >= top_p) break;
    }
    size_t kept = n - heap_n;
    for (size_t lo = heap_n, hi = n - 1; lo < hi; lo++, hi--) swap_cands(&items[lo], &items[hi]);
    memmove(items, items + heap_n, kept * sizeof *items);
    return kept;
}

void tf_cands_top_p(tf_cand_set *set, float top_p) {
    if (top_p >= 1.0f || set->n == 0) return;
    float max_logit = tf_cands_max_logit(set);
    double denominator = softmax_denominator(set, max_logit);
    if (set->sorted) {
        set->n = top_p_prefix_sorted(set, top_p, max_logit, denominator);
    } else {
        set->n = top_p_prefix_heap(set, top_p, max_logit, denominator);
        set->sorted = true;
    }
}

void tf_cands_min_p(tf_cand_set *set, float min_p) {
    if (min_p <= 0.0f || set->n == 0) return;
    /* p_i ≥ min_p · p_max  ⇔  logit_i ≥ max_logit + log(min_p): no softmax needed. */
    float min_logit = tf_cands_max_logit(set) + logf(min_p);
    size_t kept = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (set->items[i].logit >= min_logit) set->items[kept++] = set->items[i];
    }
    set->n = kept; /* never 0: the maximum itself passes */
}
