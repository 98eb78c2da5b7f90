/* The BPE model: one pre-token → token ids, merging the lowest-ranked adjacent pair first (leftmost
 * on ties) with a binary heap over a linked list of symbols, as Hugging Face's Word::merge_all
 * does, so results are equal by construction. A SentencePiece-style pre-token (a whole line) is
 * first cut into words where no merge can cross (bpe_split.h); short pre-tokens and words are
 * cached. */
#ifndef TINFER_TOKENIZER_BPE_H
#define TINFER_TOKENIZER_BPE_H

#include "tokenizer/tok_buf.h"
#include "tokenizer/tok_struct.h"

typedef struct tf_bpe_symbol {
    int32_t id;
    int32_t prev, next; /* -1 at the ends */
    bool alive;
} tf_bpe_symbol;

typedef struct tf_bpe_merge {
    uint32_t rank, pos;
    int32_t merged;
} tf_bpe_merge;

typedef struct tf_bpe_scratch {
    tf_bpe_symbol *symbols;
    size_t n_symbols, cap_symbols;
    tf_bpe_merge *heap;
    size_t n_heap, cap_heap;
    tf_bytes join; /* merges_from_scores: the joined text */
} tf_bpe_scratch;

/* Appends the ids of pre-token s[0..len) (normalized UTF-8; raw bytes for byte-level models). */
tinfer_status tf_bpe_encode(const tinfer_tokenizer *t, const char *s, size_t len,
                            tf_bpe_scratch *scratch, tf_ids *out);
void tf_bpe_scratch_free(tf_bpe_scratch *scratch);

bool tf_bpe_cache_init(tf_bpe_cache *cache);
void tf_bpe_cache_free(tf_bpe_cache *cache);

#endif
