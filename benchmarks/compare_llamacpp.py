#!/usr/bin/env python3
"""tinfer against llama.cpp (through llama-cpp-python) on the same GGUF, the same thread count and
the same measurements, in one table.

    benchmarks/compare_llamacpp.py [-m MODEL [-m MODEL ...]] [--threads N]
                                   [--positions 1,128,4096] [--prefill 128,512] [--runs 3]
                                   [--kv f16|q8_0] [--prompt-sum exact|fast]
                                   [--llama-python PYTHON] [--json FILE]

With several -m, one table per model (the shaped random-weight models of
benchmarks/make_shaped_models.py, say, beside the default model).

Each engine runs in a child process of its own (so its peak RSS is its own), the two alternating,
--runs times (which goes first alternates too); every figure is the best of the runs, and the
last column gives the ratio within each run, tinfer's run against the llama.cpp run beside it in
time: their median and range. On a host whose memory bandwidth drifts over minutes the best-of
figures of the two engines can come from different minutes; the paired ratios show how far that
moves the comparison. A run loads the model, warms up (one untimed
WARMUP-token prompt, as llama-bench's warm-up run: the first pass over the mapped weights faults
their pages in, which is load work, not prefill), then
  - prefill: a fresh cache takes a prompt of P tokens in one call, timed;
  - decode at position p: a prompt of p tokens is prefilled (untimed), then single-token decode
    steps are timed (the median of --steps), each reading p + 1 cached positions;
with the same token ids for both engines (fixed random ids below the vocabulary, drawn once). The
table gives tokens/s, peak RSS and the ratio tinfer / llama.cpp per row. --kv q8_0 gives both
engines a Q8_0 KV cache (tinfer's TINFER_KV_Q8_0; llama.cpp's type_k = type_v = q8_0, which needs
its flash attention); the default is both engines' F16 cache (llama.cpp without flash
attention, the path tinfer's exact kernels reproduce). --prompt-sum fast gives tinfer's prompts
TINFER_PROMPT_SUM_FAST's order (Q5_0 and Q8_0 matrices; llama.cpp has no such option and keeps
its own order): the table's head says which.

llama-cpp-python is not one of the project's dependencies: build it on this machine, with its
default native flags (the build a user gets), in a separate environment, and name its Python:
    python3 -m venv /work/llama-venv
    /work/llama-venv/bin/pip install --no-cache-dir numpy llama-cpp-python==0.3.36
    benchmarks/compare_llamacpp.py --llama-python /work/llama-venv/bin/python
The tinfer side uses the Python binding over TINFER_LIBRARY (default build/lib/libtinfer.so.0).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = 16
WARMUP = 32
SEED = 1234


def prompt_ids(n_vocab: int, n: int) -> list:
    """n fixed pseudo-random ids in [1000, min(n_vocab, 30000)): ordinary text-piece ids, no
    special tokens, the same for both engines."""
    state, ids = SEED, []
    top = min(n_vocab, 30000)
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        ids.append(1000 + (state >> 33) % (top - 1000))
    return ids


# ---- workers: run in a child process, print one JSON line ----

class TinferEngine:
    def __init__(self, model: str, threads: int, n_ctx: int, kv: str, prompt_sum: str):
        sys.path.insert(0, str(ROOT / "bindings" / "python" / "src"))
        os.environ.setdefault("TINFER_LIBRARY", str(ROOT / "build" / "lib" / "libtinfer.so.0"))
        import tinfer
        self.model = tinfer.Model(model)
        self.ctx = tinfer.Context(self.model, n_ctx=n_ctx, threads=threads, kv_dtype=kv,
                                  prompt_sum=prompt_sum)
        self.n_vocab = self.ctx.n_vocab

    def reset(self):
        self.ctx.kv_clear(0)

    def prefill(self, ids):
        self.ctx.prefill(ids)

    def decode(self, token):
        self.ctx.decode(token)


class LlamaEngine:
    def __init__(self, model: str, threads: int, n_ctx: int, kv: str, prompt_sum: str):
        from llama_cpp import Llama
        cache = dict(type_k=8, type_v=8, flash_attn=True) if kv == "q8_0" else {}  # GGML_TYPE_Q8_0
        self.llm = Llama(model_path=model, n_ctx=n_ctx, n_batch=512, n_ubatch=512,
                         n_threads=threads, n_threads_batch=threads, verbose=False, **cache)
        self.n_vocab = self.llm.n_vocab()

    def reset(self):
        self.llm.reset()
        self.llm._ctx.kv_cache_clear()

    def prefill(self, ids):
        self.llm.eval(ids)

    def decode(self, token):
        self.llm.eval([token])


def worker(args) -> dict:
    threads = args.threads or os.cpu_count()
    positions = [int(p) for p in args.positions.split(",")]
    prefills = [int(p) for p in args.prefill.split(",")]
    n_ctx = max(positions + prefills) + STEPS + 8
    engine_class = TinferEngine if args.worker == "tinfer" else LlamaEngine
    started = time.perf_counter()
    engine = engine_class(args.model, threads, n_ctx, args.kv, args.prompt_sum)
    result = {"load_s": time.perf_counter() - started, "prefill_tps": {}, "decode_tps": {}}
    engine.prefill(prompt_ids(engine.n_vocab, WARMUP))
    for n in prefills:
        engine.reset()
        ids = prompt_ids(engine.n_vocab, n)
        started = time.perf_counter()
        engine.prefill(ids)
        result["prefill_tps"][n] = n / (time.perf_counter() - started)
    for p in positions:
        engine.reset()
        ids = prompt_ids(engine.n_vocab, p + STEPS)
        if p:
            engine.prefill(ids[:p])
        step_s = []
        for token in ids[p:p + STEPS]:
            started = time.perf_counter()
            engine.decode(token)
            step_s.append(time.perf_counter() - started)
        result["decode_tps"][p] = 1 / statistics.median(step_s[1:])  # the first warms up
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


# ---- the parent: alternate the engines, keep the best figures, print the table ----

def run_worker(python: str, engine: str, args, model: str) -> dict:
    command = [python, __file__, "--worker", engine, "-m", model, "--threads",
               str(args.threads), "--positions", args.positions, "--prefill", args.prefill,
               "--kv", args.kv, "--prompt-sum", args.prompt_sum]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        sys.exit(f"compare_llamacpp: the {engine} run failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def best(runs: list, key: str) -> dict:
    return {k: max(r[key][k] for r in runs) for k in runs[0][key]}


def paired(t: list, l: list, key: str, k) -> str:
    """The per-run ratios tinfer / llama.cpp of one row: median (min-max)."""
    ratios = [a[key][k] / b[key][k] for a, b in zip(t, l)]
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}"
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


def table(results: dict, args, model: str) -> str:
    rows = [("row", "tinfer", "llama.cpp", "tinfer / llama.cpp", "per run: median (range)")]
    t, l = results["tinfer"], results["llama.cpp"]
    for name, key in (("decode tok/s at position {}", "decode_tps"),
                      ("prefill tok/s, {} tokens", "prefill_tps")):
        tb, lb = best(t, key), best(l, key)
        for k in tb:
            rows.append((name.format(k), f"{tb[k]:.1f}", f"{lb[k]:.1f}", f"{tb[k] / lb[k]:.2f}",
                         paired(t, l, key, k)))
    trss = min(r["peak_rss_mib"] for r in t)
    lrss = min(r["peak_rss_mib"] for r in l)
    rows.append(("peak RSS MiB", f"{trss:.0f}", f"{lrss:.0f}", f"{trss / lrss:.2f}", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    threads = args.threads or os.cpu_count()
    head = (f"{Path(model).name}, {threads} thread{'s' if threads > 1 else ''}, "
            f"{args.kv.upper()} KV cache, best of {args.runs} alternating runs"
            + (", tinfer's prompts in TINFER_PROMPT_SUM_FAST's order"
               if args.prompt_sum == "fast" else ""))
    return head + "\n\n" + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", action="append",
                        help="a GGUF file; repeat for several (default: the default model)")
    parser.add_argument("--threads", type=int, default=0, help="0: one per core")
    parser.add_argument("--positions", default="1,128,4096")
    parser.add_argument("--prefill", default="128,512")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kv", choices=("f16", "q8_0"), default="f16",
                        help="both engines' KV cache type (default f16)")
    parser.add_argument("--prompt-sum", choices=("exact", "fast"), default="exact",
                        help="tinfer's prompt order over Q5_0 and Q8_0 matrices "
                             "(TINFER_PROMPT_SUM_FAST)")
    parser.add_argument("--llama-python", default="/work/llama-venv/bin/python",
                        help="a Python with llama-cpp-python installed")
    parser.add_argument("--json", help="also write every run's figures here")
    parser.add_argument("--worker", choices=("tinfer", "llama.cpp"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.model = args.model or [os.environ.get(
        "TINFER_DEFAULT_MODEL", str(ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"))]
    if args.worker:
        args.model = args.model[0]
        print(json.dumps(worker(args)))
        return
    every = {}
    for model in args.model:
        results = {"tinfer": [], "llama.cpp": []}
        for run in range(args.runs):
            engines = [("tinfer", sys.executable), ("llama.cpp", args.llama_python)]
            for engine, python in engines[::-1] if run % 2 else engines:
                results[engine].append(run_worker(python, engine, args, model))
                print(f"compare_llamacpp: {Path(model).name} run {run + 1}/{args.runs}: "
                      f"{engine} done", file=sys.stderr)
        print(table(results, args, model) + "\n", flush=True)
        every[Path(model).name] = results
    if args.json:
        Path(args.json).write_text(json.dumps(every, indent=1))


if __name__ == "__main__":
    main()
