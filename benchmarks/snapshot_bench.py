#!/usr/bin/env python3
"""KV snapshots: size and time to save and load a sequence's state, tinfer (tinfer/snapshot.h at
several zstd levels, to memory and to a file) against llama.cpp's state API through
llama-cpp-python (Llama.save_state / load_state, llama_state_save_file / load_file), on the same
GGUF and the same prompt, in one table.

    benchmarks/snapshot_bench.py [-m MODEL] [--tokens 4096] [--levels 1,3,9] [--threads N]
                                 [--runs 3] [--llama-python PYTHON]

The prompt is real text (this repository's documentation, tokenized by the model's tokenizer,
the first --tokens ids), so the keys and values are those of a real prefill. Each engine runs in a
child process of its own: it loads the model, prefills the prompt into one sequence, then times
(best of --runs) a save to memory, a load of those bytes into a second context, a save to a file
and a load from it, and checks that one more decode step gives the same logits (bit for bit) in the
loaded context as in the original. Sizes: "raw" is the uncompressed K/V + logits payload (tinfer's header
field payload_bytes), "bytes" what is stored; ratio = raw / bytes.

llama-cpp-python is not a project dependency (see benchmarks/compare_llamacpp.py for its build):
    benchmarks/snapshot_bench.py --llama-python /work/llama-venv/bin/python
The tinfer side uses the Python binding over TINFER_LIBRARY (default build/lib/libtinfer.so.0).
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def best_ms(fn, runs):
    """(best wall time in ms over runs calls of fn, fn's last result)."""
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, (time.perf_counter() - start) * 1000.0)
    return best, result


def prompt_text(n_chars):
    parts = [ROOT / "README.md"] + sorted((ROOT / "doc").glob("*.md"))
    text = "\n\n".join(p.read_text(encoding="utf-8") for p in parts)
    while len(text) < n_chars:
        text += "\n\n" + text
    return text


# ---- workers: run in a child process, print one JSON line ----

def tinfer_worker(args, ids):
    sys.path.insert(0, str(ROOT / "bindings" / "python" / "src"))
    import tinfer

    rows = []
    with tinfer.Model(args.model) as model:
        n_ctx = len(ids) + 16
        with tinfer.Context(model, n_ctx=n_ctx, threads=args.threads) as ctx, \
                tinfer.Context(model, n_ctx=n_ctx, threads=args.threads) as other:
            start = time.perf_counter()
            ctx.prefill(ids)
            prefill_s = time.perf_counter() - start
            want = bytes(ctx.logits(0))
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "state.tfkv"
                for level in args.levels:
                    save_ms, data = best_ms(lambda: ctx.save_state(0, level), args.runs)
                    load_ms, _ = best_ms(lambda: other.load_state(data, 0), args.runs)
                    same = bytes(other.logits(0)) == want
                    save_file_ms, _ = best_ms(lambda: ctx.save_state_file(path, 0, level),
                                              args.runs)
                    load_file_ms, _ = best_ms(lambda: other.load_state_file(path, 0), args.runs)
                    same = same and bytes(other.logits(0)) == want
                    raw = struct.unpack_from("<Q", data, 72)[0]  # header field payload_bytes
                    rows.append({"engine": "tinfer", "setting": f"zstd {level}", "raw": raw,
                                 "bytes": len(data), "save_ms": save_ms, "load_ms": load_ms,
                                 "save_file_ms": save_file_ms, "load_file_ms": load_file_ms,
                                 "same_logits": same})
            # The next decode step after the (last) load, in both contexts.
            token = int(max(range(len(want) // 4), key=lambda i: ctx.logits(0)[i]))
            ctx.decode(token, 0)
            other.decode(token, 0)
            next_same = bytes(ctx.logits(0)) == bytes(other.logits(0))
    for row in rows:
        row["same_logits"] = row["same_logits"] and next_same
    return {"prefill_s": prefill_s, "rows": rows}


def llama_worker(args, ids):
    import ctypes

    import llama_cpp
    import numpy as np

    def make():
        return llama_cpp.Llama(model_path=args.model, n_ctx=len(ids) + 16, n_batch=512,
                               n_threads=args.threads or None, verbose=False)

    llm, other = make(), make()
    n_vocab = llama_cpp.llama_n_vocab(llama_cpp.llama_model_get_vocab(llm.model))

    def last_logits(model):
        """The context's logits buffer: the one output row of the last batch (restored by a
        state load)."""
        row = llama_cpp.llama_get_logits(model._ctx.ctx)
        return np.ctypeslib.as_array(row, shape=(n_vocab,)).copy() if row else None

    start = time.perf_counter()
    llm.eval(ids)
    prefill_s = time.perf_counter() - start
    want = last_logits(llm)
    # Llama.save_state/load_state: the state bytes plus the binding's own copy of its scores
    # array (n_batch × n_vocab floats), which dominates for a large vocabulary.
    save_ms, state = best_ms(llm.save_state, args.runs)
    load_ms, _ = best_ms(lambda: other.load_state(state), args.runs)
        # The C API underneath: llama_state_get_data / llama_state_set_data, bytes only.
    ctx, other_ctx = llm._ctx.ctx, other._ctx.ctx
    size = int(llama_cpp.llama_state_get_size(ctx))
    buf = (ctypes.c_uint8 * size)()

    def get_data():
        return int(llama_cpp.llama_state_get_data(ctx, buf, size))

    c_save_ms, used = best_ms(get_data, args.runs)
    c_load_ms, _ = best_ms(lambda: llama_cpp.llama_state_set_data(other_ctx, buf, used),
                           args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "state.bin").encode()
        tokens = (llama_cpp.llama_token * len(ids))(*ids)

        def save_file():
            if not llama_cpp.llama_state_save_file(ctx, path, tokens, len(ids)):
                raise RuntimeError("llama_state_save_file failed")

        out_tokens = (llama_cpp.llama_token * (len(ids) + 16))()
        n_out = ctypes.c_size_t()

        def load_file():
            if not llama_cpp.llama_state_load_file(other_ctx, path, out_tokens, len(ids) + 16,
                                                   ctypes.byref(n_out)):
                raise RuntimeError("llama_state_load_file failed")

        save_file_ms, _ = best_ms(save_file, args.runs)
        file_bytes = os.path.getsize(path)
        load_file_ms, _ = best_ms(load_file, args.runs)
    # The next decode step after the (last) load, in both contexts.
    token = int(np.argmax(want))
    llm.eval([token])
    other.eval([token])
    same = bool(np.array_equal(last_logits(llm), last_logits(other)))
    n_state = int(state.llama_state_size)
    return {"prefill_s": prefill_s, "rows": [
        {"engine": "llama.cpp", "setting": "Llama.save_state (Python)", "raw": n_state,
         "bytes": n_state, "save_ms": save_ms, "load_ms": load_ms, "same_logits": same},
        {"engine": "llama.cpp", "setting": "llama_state_get/set_data", "raw": used,
         "bytes": used, "file_bytes": file_bytes, "save_ms": c_save_ms, "load_ms": c_load_ms,
         "save_file_ms": save_file_ms, "load_file_ms": load_file_ms, "same_logits": same}]}


# ---- the parent ----

def tokenize(args):
    sys.path.insert(0, str(ROOT / "bindings" / "python" / "src"))
    import tinfer

    with tinfer.Model(args.model) as model:
        ids = model.tokenizer.encode(prompt_text(args.tokens * 8))
    if len(ids) < args.tokens:
        sys.exit(f"snapshot_bench: the text gives only {len(ids)} tokens")
    return ids[:args.tokens]


def run_child(python, engine, args, ids):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(ids, f)
    cmd = [python, str(Path(__file__).resolve()), "--worker", engine, "--ids", f.name,
           "-m", args.model, "--levels=" + ",".join(map(str, args.levels)),
           "--threads", str(args.threads), "--runs", str(args.runs)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(f"snapshot_bench: the {engine} worker failed (status {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt(ms):
    return "—" if ms is None else f"{ms:.1f}"


def mb(n):
    return n / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", default=os.environ.get(
        "TINFER_DEFAULT_MODEL", str(ROOT / "models" / "gemma-3-270m-q4_k_m.gguf")))
    ap.add_argument("--tokens", type=int, default=4096)
    ap.add_argument("--levels", default="1,3,9")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--llama-python", default=None,
                    help="a Python with llama-cpp-python (omit to measure tinfer only)")
    ap.add_argument("--worker", choices=["tinfer", "llama"], help=argparse.SUPPRESS)
    ap.add_argument("--ids", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.levels = [int(x) for x in str(args.levels).split(",") if x]
    if args.worker:
        ids = json.loads(Path(args.ids).read_text())
        worker = tinfer_worker if args.worker == "tinfer" else llama_worker
        print(json.dumps(worker(args, ids)))
        return
    if "TINFER_LIBRARY" not in os.environ:
        os.environ["TINFER_LIBRARY"] = str(ROOT / "build" / "lib" / "libtinfer.so.0")
    ids = tokenize(args)
    print(f"snapshot_bench: {Path(args.model).name}, {len(ids)} tokens of real text, "
          f"threads {args.threads or 'all'}, best of {args.runs}", file=sys.stderr)
    results = [("tinfer", run_child(sys.executable, "tinfer", args, ids))]
    if args.llama_python:
        results.append(("llama.cpp", run_child(args.llama_python, "llama", args, ids)))
    print(f"| engine | setting | raw MB | stored MB | ratio | save ms | load ms | "
          f"save file ms | load file ms | next decode equal |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for _, result in results:
        for r in result["rows"]:
            stored = r.get("file_bytes", r["bytes"])
            print(f"| {r['engine']} | {r['setting']} | {mb(r['raw']):.2f} | {mb(stored):.2f} | "
                  f"{r['raw'] / stored:.2f} | {r['save_ms']:.1f} | {r['load_ms']:.1f} | "
                  f"{fmt(r.get('save_file_ms'))} | {fmt(r.get('load_file_ms'))} | "
                  f"{'yes' if r['same_logits'] else 'NO'} |")
    for name, result in results:
        print(f"{name}: prefill of {len(ids)} tokens took {result['prefill_s']:.1f} s",
              file=sys.stderr)


if __name__ == "__main__":
    main()
