"""A tiny runnable model written with the PyPI `gguf` package's GGUFWriter (llama.cpp's own
writer, independent of libtinfer): Llama architecture, 2 layers, width 32, GQA (4 query heads,
2 KV heads), random F32 weights, and a SentencePiece-style vocabulary of 3 specials + 256 byte
tokens + a few words. About 100 KB, so 1,000 load/free cycles take a second or two."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
from gguf import GGUFWriter
from gguf.constants import TokenType

ARCH = "llama"
N_EMBD, N_LAYER, N_HEAD, N_HEAD_KV, HEAD_DIM, N_FF, N_CTX_TRAIN = 32, 2, 4, 2, 8, 64, 256
WORDS = ["▁the", "▁cat", "▁sat", "▁on", "▁mat", "▁a", "▁dog", "▁Hello", "▁world", "he", "ll",
         "o", "▁"]
SEED = 1234


def vocabulary() -> Tuple[List[str], List[float], List[int]]:
    tokens = ["<unk>", "<s>", "</s>"]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [TokenType.BYTE] * 256
    tokens += WORDS
    types += [TokenType.NORMAL] * len(WORDS)
    scores = [0.0] * 259 + [-float(i) for i in range(len(WORDS))]
    return tokens, scores, [int(t) for t in types]


def write_tiny_model(path: Path, seed: int = SEED, *, chat_template: Optional[str] = None,
                     eos_token_id: int = 2) -> int:
    """Writes the model to path; returns its vocabulary size. chat_template adds
    tokenizer.chat_template; eos_token_id names another token as EOS (the weights stay the
    same, so a greedy run can be made to end at a token it is known to produce)."""
    rng = np.random.default_rng(seed)
    tokens, scores, types = vocabulary()
    n_vocab = len(tokens)
    writer = GGUFWriter(str(path), ARCH)
    writer.add_name("tiny test llama")
    writer.add_context_length(N_CTX_TRAIN)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_key_length(HEAD_DIM)
    writer.add_value_length(HEAD_DIM)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(n_vocab)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(eos_token_id)
    writer.add_add_bos_token(True)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    def matrix(name: str, rows: int, cols: int, scale: float = 0.3) -> None:
        writer.add_tensor(name, (rng.standard_normal((rows, cols)) * scale).astype(np.float32))

    def norm(name: str, n: int) -> None:
        writer.add_tensor(name, (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32))

    matrix("token_embd.weight", n_vocab, N_EMBD, 1.0)
    norm("output_norm.weight", N_EMBD)
    matrix("output.weight", n_vocab, N_EMBD)
    for layer in range(N_LAYER):
        blk = f"blk.{layer}."
        norm(blk + "attn_norm.weight", N_EMBD)
        matrix(blk + "attn_q.weight", N_HEAD * HEAD_DIM, N_EMBD)
        matrix(blk + "attn_k.weight", N_HEAD_KV * HEAD_DIM, N_EMBD)
        matrix(blk + "attn_v.weight", N_HEAD_KV * HEAD_DIM, N_EMBD)
        matrix(blk + "attn_output.weight", N_EMBD, N_HEAD * HEAD_DIM)
        norm(blk + "ffn_norm.weight", N_EMBD)
        matrix(blk + "ffn_gate.weight", N_FF, N_EMBD)
        matrix(blk + "ffn_up.weight", N_FF, N_EMBD)
        matrix(blk + "ffn_down.weight", N_EMBD, N_FF)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return n_vocab
