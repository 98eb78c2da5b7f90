#!/usr/bin/env python3
"""Writes the reference token ids and decodes of the conformance corpus, from Hugging Face
`tokenizers` (the independent reference), for each tokenizer under tests/data/tokenizers/<name>/.

For each corpus line (tests/data/tokenizers/corpus.jsonl.zst) and tokenizer, one JSON line:
  {"ids": [...], "decode": "..."}
ids   = Tokenizer.encode(text).ids            (add_special_tokens=True, the default)
decode = Tokenizer.decode(ids)                (skip_special_tokens=True, the default)
Lines given as {"hex": ...} hold bytes that are not valid UTF-8. A Python str cannot hold them, so
the reference text is bytes.decode("utf-8", errors="replace"): each maximal invalid subsequence
becomes one U+FFFD. libtinfer, given the raw bytes, must produce the same ids.

Usage: python3 tests/conformance/make_reference.py [--data DIR] [--copy-from ../shared/tokenizers]
  --copy-from also (re)copies tokenizer.json.zst and tokenizer_config.json (compressed) into DIR.
Needs: tokenizers, zstandard (PyPI).
"""
import argparse
import json
import os
import shutil
import sys

import tokenizers
import zstandard

NAMES = ["gemma3", "llama2", "llama3", "qwen3"]


def read_corpus(path):
    text = zstandard.ZstdDecompressor().stream_reader(open(path, "rb")).read().decode("utf-8")
    out = []
    for line in text.split("\n"):
        if not line:
            continue
        obj = json.loads(line)
        if "hex" in obj:
            out.append(bytes.fromhex(obj["hex"]).decode("utf-8", errors="replace"))
        else:
            out.append(obj["text"])
    return out


def copy_inputs(src_root, data_dir):
    cctx = zstandard.ZstdCompressor(level=19)
    for name in NAMES:
        dst = os.path.join(data_dir, name)
        os.makedirs(dst, exist_ok=True)
        shutil.copyfile(os.path.join(src_root, name, "tokenizer.json.zst"),
                        os.path.join(dst, "tokenizer.json.zst"))
        with open(os.path.join(src_root, name, "tokenizer_config.json"), "rb") as f:
            raw = f.read()
        with open(os.path.join(dst, "tokenizer_config.json.zst"), "wb") as f:
            f.write(cctx.compress(raw))


def load_tokenizer(data_dir, name):
    with open(os.path.join(data_dir, name, "tokenizer.json.zst"), "rb") as f:
        raw = zstandard.ZstdDecompressor().stream_reader(f).read()
    return tokenizers.Tokenizer.from_str(raw.decode("utf-8"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.normpath(os.path.join(here, "..", "data", "tokenizers")))
    ap.add_argument("--copy-from", default=None)
    args = ap.parse_args()
    if args.copy_from:
        copy_inputs(args.copy_from, args.data)
    corpus = read_corpus(os.path.join(args.data, "corpus.jsonl.zst"))
    cctx = zstandard.ZstdCompressor(level=19)
    for name in NAMES:
        tok = load_tokenizer(args.data, name)
        lines = []
        for text in corpus:
            ids = tok.encode(text).ids
            lines.append(json.dumps({"ids": ids, "decode": tok.decode(ids)}, ensure_ascii=False))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        with open(os.path.join(args.data, name, "reference.jsonl.zst"), "wb") as f:
            f.write(cctx.compress(data))
        print(f"{name}: {len(lines)} lines (tokenizers {tokenizers.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
