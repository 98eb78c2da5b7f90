/* Cutting a SentencePiece-style pre-token into words that BPE can encode one by one.
 *
 * Those tokenizers have no pre-tokenizer: a whole line is one BPE input, so the pre-token cache
 * never hits. A cut between two adjacent characters X and Y changes nothing when no merge can
 * ever join a symbol ending in X with a symbol starting with Y: merges on each side then only see
 * symbols of that side, and the lowest-rank-first order restricted to one side is that side's own
 * order (ties go leftmost in both). Such a merge would make a token whose text holds "XY". So a
 * cut before "▁" is proved safe, at load time, for every known character X that no merge result
 * holds followed by "▁" (in Gemma "▁▁" and ">▁" occur, so runs of ▁ and ">▁" stay whole). X must
 * be a single-character token: an unknown character becomes "<0xNN>" byte tokens (or the unknown
 * token, which fuse_unk may join across the cut), whose texts are not X. */
#ifndef TINFER_TOKENIZER_BPE_SPLIT_H
#define TINFER_TOKENIZER_BPE_SPLIT_H

#include "tokenizer/tok_struct.h"

/* Derives t->space_cut from the merges (or, with merges_from_scores, every ranked token). Leaves
 * cutting off for byte-level models, ignore_merges (a whole pre-token found in the vocabulary is
 * one token, so cutting would change the result) and vocabularies without a "▁" token. */
tinfer_status tf_bpe_split_prepare(tinfer_tokenizer *t);
void tf_bpe_split_free(tinfer_tokenizer *t);

/* The end of the word starting at s[start] in s[0..len): the offset of the next safe cut, or
 * len. s is valid UTF-8. */
size_t tf_bpe_next_cut(const tinfer_tokenizer *t, const char *s, size_t len, size_t start);

#endif
