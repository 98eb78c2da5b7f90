#!/usr/bin/env python3
"""Random id sequences decoded by libtinfer (whole and streamed) against Hugging Face `tokenizers`.

For each tokenizer under tests/data/tokenizers/<name>/, N random id sequences (biased towards
byte tokens, whose runs carry the U+FFFD rules) are decoded three ways: Tokenizer.decode of HF,
tinfer_detokenize, and tinfer_detok_stream push + flush. All three must give the same bytes.

Usage: TINFER_LIBRARY=build-fuzz/lib/libtinfer.so.0 PYTHONPATH=bindings/python/src \
           .venv/bin/python tests/fuzz/check_detok_hf.py [N]
Needs: tokenizers, zstandard (PyPI) and the Python binding.
"""
import random
import sys
from pathlib import Path

import tokenizers
import zstandard

import tinfer

DATA = Path(__file__).resolve().parents[1] / "data" / "tokenizers"
NAMES = ["gemma3", "llama2", "llama3", "qwen3"]


def hf_tokenizer(name):
    with (DATA / name / "tokenizer.json.zst").open("rb") as f:
        text = zstandard.ZstdDecompressor().stream_reader(f).read().decode()
    return tokenizers.Tokenizer.from_str(text)


def check(name, n_sequences, rng):
    hf = hf_tokenizer(name)
    n_vocab = hf.get_vocab_size(with_added_tokens=True)
    byteish = [i for i in range(n_vocab)
               if (hf.id_to_token(i) or "").startswith("<0x") or len(hf.id_to_token(i) or "") == 1]
    bad = 0
    with tinfer.Tokenizer.load(DATA / name) as ours:
        for _ in range(n_sequences):
            ids = [rng.choice(byteish) if rng.random() < 0.6 else rng.randrange(n_vocab)
                   for _ in range(rng.randrange(12))]
            skip = rng.random() < 0.5
            want = hf.decode(ids, skip_special_tokens=skip).encode()
            whole = ours.decode_bytes(ids, skip_special=skip)
            stream = ours.stream(skip_special=skip)
            streamed = "".join([stream.push(i) for i in ids] + [stream.flush()]).encode()
            stream.close()
            if not (want == whole == streamed):
                bad += 1
                if bad <= 5:
                    print(f"{name} {ids} skip={skip}: hf {want!r} whole {whole!r} "
                          f"stream {streamed!r}")
    print(f"{name}: {n_sequences - bad}/{n_sequences} sequences agree")
    return bad == 0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rng = random.Random(11)
    ok = all([check(name, n, rng) for name in NAMES])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
