#!/usr/bin/env python3
"""Tokenizer benchmark: libtinfer vs Hugging Face `tokenizers` on one thread, same corpus, same run.

  python3 benchmarks/bench_tokenizer.py [--build build] [--seconds 2] [--gguf MODEL.gguf]

Builds benchmarks/tokenizer_bench.c against BUILD/lib/libtinfer.a (with cc and pkg-config) unless
BUILD/benchmarks/tokenizer_bench exists, runs it, then times HF on the corpus lines
(Tokenizer.encode per line, and encode_batch with RAYON_NUM_THREADS=1; the faster counts), and
prints load times, MB/s and the ratio. Needs: tokenizers, zstandard (PyPI).
"""
import argparse
import json
import os
import subprocess
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers starts its thread pool
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers  # noqa: E402
import zstandard  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "tests", "data", "tokenizers")
NAMES = ["gemma3", "llama2", "llama3", "qwen3"]


def build_bench(build):
    exe = os.path.join(build, "benchmarks", "tokenizer_bench")
    if os.path.exists(exe):
        return exe
    exe = os.path.join(build, "tokenizer_bench")
    libs = subprocess.check_output(["pkg-config", "--libs", "libzstd", "jansson", "openblas", "libpcre2-8",
                                    "libutf8proc"], text=True).split()
    subprocess.check_call(["cc", "-O2", "-std=c11", "-D_DEFAULT_SOURCE", "-DTINFER_STATIC_DEFINE",
                           "-I", os.path.join(ROOT, "include"), os.path.join(HERE, "tokenizer_bench.c"),
                           os.path.join(build, "lib", "libtinfer.a"), *libs, "-lm", "-lpthread", "-o", exe])
    return exe


def read_corpus():
    raw = zstandard.ZstdDecompressor().stream_reader(open(os.path.join(DATA, "corpus.jsonl.zst"), "rb")).read()
    texts = []
    for line in raw.decode("utf-8").split("\n"):
        if not line:
            continue
        obj = json.loads(line)
        texts.append(bytes.fromhex(obj["hex"]).decode("utf-8", "replace") if "hex" in obj else obj["text"])
    return texts


def time_hf(name, texts, seconds):
    t0 = time.perf_counter()
    raw = zstandard.ZstdDecompressor().stream_reader(open(os.path.join(DATA, name, "tokenizer.json.zst"), "rb")).read()
    tok = tokenizers.Tokenizer.from_str(raw.decode("utf-8"))
    load_ms = (time.perf_counter() - t0) * 1e3
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    best = 0.0
    for mode in ("encode", "batch"):
        passes, start = 0, time.perf_counter()
        while True:
            if mode == "encode":
                for t in texts:
                    tok.encode(t)
            else:
                tok.encode_batch(texts)
            passes += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, n_bytes * passes / elapsed / 1e6)
    return load_ms, best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--gguf", default=os.environ.get("TINFER_DEFAULT_MODEL", "/tmp/models/gemma-3-270m-q4_k_m.gguf"))
    args = ap.parse_args()
    exe = build_bench(args.build)
    cmd = [exe, "--seconds", str(args.seconds), *NAMES]
    if args.gguf and os.path.exists(args.gguf):
        cmd += ["--gguf", args.gguf]
    env = dict(os.environ, TINFER_SOURCE_DIR=ROOT)
    ours = {}
    for line in subprocess.check_output(cmd, env=env, text=True).splitlines():
        row = json.loads(line)
        ours[row["tokenizer"]] = row
    texts = read_corpus()
    print(f"corpus: {len(texts)} lines, {sum(len(t.encode()) for t in texts) / 1e6:.2f} MB; "
          f"tokenizers {tokenizers.__version__}, one thread")
    print(f"{'tokenizer':<12} {'load ms':>8} {'HF load ms':>10} {'MB/s':>8} {'HF MB/s':>8} {'ratio':>6}")
    for name in NAMES:
        hf_load, hf_mbs = time_hf(name, texts, args.seconds)
        o = ours.get(name)
        if not o:
            continue
        print(f"{name:<12} {o['load_ms']:>8.1f} {hf_load:>10.1f} {o['mb_per_s']:>8.2f} {hf_mbs:>8.2f} "
              f"{o['mb_per_s'] / hf_mbs:>5.1f}x")
    if "gemma3-gguf" in ours:
        o = ours["gemma3-gguf"]
        print(f"{'gemma3 GGUF':<12} {o['load_ms']:>8.1f} {'':>10} {o['mb_per_s']:>8.2f}   (vocabulary from {args.gguf})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
