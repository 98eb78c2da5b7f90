/* struct tinfer_tokenizer: what a loaded tokenizer holds (vocabulary, BPE merges, the
 * normalize/pre-tokenize/decoder pipeline, special tokens), shared by the files that build it
 * (tok_json.c, tok_gguf.c, tok_build.c) and the files that run it (encode.c, bpe.c,
 * detokenize.c). Immutable after building, except the pre-token cache, which has its own lock. */
#ifndef TINFER_TOKENIZER_TOK_STRUCT_H
#define TINFER_TOKENIZER_TOK_STRUCT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinfer/tinfer.h"
#include "tokenizer/tok_map.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

enum tf_tok_flag {
    TF_TOK_PRESENT = 1, /* the id names a token (ids may have holes) */
    TF_TOK_ADDED = 2,   /* an added token: matched in the text before the model runs */
    TF_TOK_SPECIAL = 4, /* special: skipped by SKIP_SPECIAL, not matched without PARSE_SPECIAL */
    TF_TOK_BYTE = 8     /* "<0xXX>" under a ByteFallback decoder: decodes to byte_value */
};

typedef struct tf_tok_entry {
    uint32_t text_off, text_len;   /* the token's string in the vocabulary */
    uint32_t piece_off, piece_len; /* the bytes it contributes to decoded text */
    uint8_t flags;
    uint8_t byte_value;
} tf_tok_entry;

/* Added-token matching options, as Hugging Face's AddedToken has them. */
typedef struct tf_added_token {
    int32_t id;
    bool lstrip, rstrip, single_word, normalized, special;
} tf_added_token;

/* A byte trie over added-token texts; edges in a hash map (node << 8 | byte) → child. */
typedef struct tf_added_trie {
    tf_u64_map edges;
    int32_t *node_token; /* index into added[] of the token ending at a node, or -1 */
    size_t n_nodes, cap_nodes;
    uint8_t first_byte[32]; /* bitmap of bytes that start some token */
} tf_added_trie;

typedef enum tf_norm_kind { TF_NORM_NFC, TF_NORM_REPLACE, TF_NORM_PREPEND } tf_norm_kind;

typedef struct tf_norm_step {
    tf_norm_kind kind;
    char *pattern; /* REPLACE: the literal replaced */
    size_t pattern_len;
    char *content; /* REPLACE: its replacement; PREPEND: the prefix */
    size_t content_len;
} tf_norm_step;

typedef enum tf_split_behavior {
    TF_SPLIT_ISOLATED,
    TF_SPLIT_REMOVED,
    TF_SPLIT_MERGED_WITH_PREVIOUS,
    TF_SPLIT_MERGED_WITH_NEXT,
    TF_SPLIT_CONTIGUOUS
} tf_split_behavior;

typedef struct tf_pretok_step {
    pcre2_code *regex; /* a regex split, or NULL for a literal one */
    char *literal;
    size_t literal_len;
    tf_split_behavior behavior;
    bool invert;
} tf_pretok_step;

typedef struct tf_replace_pair {
    char *from, *to;
    size_t from_len, to_len;
} tf_replace_pair;

/* The decoder chains our files use: per-token Replace steps, then ByteFallback, Fuse, Strip; or
 * ByteLevel. Everything per token is folded into the pieces at load time. */
typedef struct tf_decoder {
    bool byte_level;     /* pieces are raw bytes; the joined output is repaired lossily */
    bool byte_fallback;  /* runs of <0xXX> tokens are joined, or become U+FFFD per byte */
    uint32_t strip_char; /* Strip decoder: a code point removed from the joined text's ends */
    size_t strip_start, strip_stop;
    bool strip_first_token_space; /* Metaspace decoder: one leading space of token 0 */
} tf_decoder;

/* Cache of BPE results for short pre-tokens: key bytes → token ids. */
typedef struct tf_bpe_cache {
    pthread_mutex_t lock;
    uint64_t *hashes; /* 0: empty */
    uint32_t *key_off, *key_len, *ids_off, *ids_len;
    size_t mask, n_used;
    uint8_t *keys;
    size_t keys_len, keys_cap;
    int32_t *ids;
    size_t ids_used, ids_cap;
} tf_bpe_cache;

struct tinfer_tokenizer {
    /* vocabulary */
    size_t n_vocab; /* ids are 0..n_vocab-1 */
    tf_tok_entry *tokens;
    char *blob; /* token texts and pieces */
    size_t blob_len, blob_cap;
    tf_str_map by_text; /* token text → id */

    /* BPE model */
    bool byte_level;    /* symbols start as bytes mapped to GPT-2's byte characters */
    bool byte_fallback; /* unknown characters become <0xXX> tokens */
    bool ignore_merges; /* a pre-token found whole in the vocabulary is one token */
    bool fuse_unk;
    int32_t unk_id;          /* model's unknown token, -1 if none */
    tf_u64_map merges;       /* (left id << 32 | right id) → (rank << 32 | merged id) */
    bool merges_from_scores; /* GGUF SentencePiece: any pair whose join is a normal token
                                merges, ranked by the joined token's score */
    uint32_t *score_rank;    /* with merges_from_scores: rank of each id (UINT32_MAX: never) */
    int32_t byte_ids[256];   /* byte_level: token of each byte; byte_fallback: <0xXX>; or -1 */
    tf_u64_map char_ids;     /* code point → single-character token (not byte_level) */
    tf_str_map by_piece;     /* byte_level: raw bytes of a model token → id */
    tf_bpe_cache cache;
    /* cuts before "▁" that no merge can cross (bpe_split.h); off when space_cut.on is false */
    struct {
        bool on;
        uint8_t ascii_ok[16]; /* bit per ASCII X: a cut between X and "▁" is safe */
        tf_u64_map glued;     /* non-ASCII X that some merge result holds followed by "▁" */
    } space_cut;

    /* pipeline */
    tf_norm_step *norm;
    size_t n_norm;
    tf_pretok_step *pretok;
    size_t n_pretok;
    tf_added_token *added;
    size_t n_added, cap_added;
    tf_added_trie trie;
    bool has_normalized_added;        /* some added token is matched after normalization */
    int32_t *prefix_ids, *suffix_ids; /* post-processor for one sequence */
    size_t n_prefix, n_suffix;
    tf_decoder decoder;
    size_t max_expand;  /* normalized bytes per input byte, at most */
    size_t prepend_len; /* bytes a Prepend normalizer adds per segment */

    /* special tokens */
    int32_t bos_id, eos_id, pad_id, unk_special_id;
    int32_t *eog_ids;
    size_t n_eog;
    char *chat_template, *bos_text, *eos_text;
    /* general.architecture of the GGUF file the tokenizer came from (NULL from tokenizer.json):
     * lib/chat/ picks a template by it when the file carries none */
    char *architecture;
};

#endif
