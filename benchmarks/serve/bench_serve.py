"""Serving throughput of tinfer-server: C clients at once, each streaming R completions, for each
C of --concurrency; prints aggregate generated tokens/s, time to first token and per-stream
tokens/s, and writes them as JSON with --json.

    .venv/bin/python benchmarks/serve/bench_serve.py -m models/gemma-3-270m-q4_k_m.gguf \
        --concurrency 1,8 --max-tokens 64

Starts build/examples/server/tinfer-server itself (--server, --parallel = the largest C) on a free
port and stops it with SIGTERM, or measures a running one given by --url. Completions at
temperature 0 with distinct prompts; the token counts are the server's own (stream usage)."""

import argparse
import json
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ["Once upon a time, in a small village by the sea,", "The history of the bicycle",
           "Here is a recipe for bread:", "The three laws of motion are",
           "My favourite season is autumn because", "In the year 2050, cities will",
           "A guide to learning the piano:", "The ocean is home to"]


def start_server(args, parallel):
    process = subprocess.Popen(
        [args.server, "-m", args.model, "--port", "0", "--parallel", str(parallel), "--ctx",
         str(args.ctx), "--threads", str(args.threads)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline()))
    reader.start()
    reader.join(120)
    match = re.search(r"http://[^:]+:(\d+)", line[0] if line else "")
    if not match:
        process.kill()
        sys.exit(f"bench_serve: the server did not start: {process.communicate()[1]}")
    return process, f"http://127.0.0.1:{match.group(1)}"


def one_request(client, prompt, max_tokens):
    started = time.monotonic()
    first, tokens = None, 0
    for chunk in client.completions.create(model="m", prompt=prompt, max_tokens=max_tokens,
                                           temperature=0, stream=True,
                                           stream_options={"include_usage": True}):
        if first is None and chunk.choices and chunk.choices[0].text:
            first = time.monotonic() - started
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    elapsed = time.monotonic() - started
    return {"ttft_s": first or elapsed, "elapsed_s": elapsed, "tokens": tokens}


def run_level(url, concurrency, args):
    client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=600)

    def worker(i):
        return [one_request(client, PROMPTS[(i + k) % len(PROMPTS)], args.max_tokens)
                for k in range(args.requests)]

    one_request(client, "Warm up", 2)
    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        results = [r for rs in pool.map(worker, range(concurrency)) for r in rs]
    wall = time.monotonic() - started
    tokens = sum(r["tokens"] for r in results)
    return {"concurrency": concurrency, "requests": len(results), "wall_s": wall,
            "generated_tokens": tokens, "aggregate_tokens_per_s": tokens / wall,
            "ttft_median_s": statistics.median(r["ttft_s"] for r in results),
            "stream_tokens_per_s_median": statistics.median(
                r["tokens"] / r["elapsed_s"] for r in results)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", default=str(ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"))
    parser.add_argument("--server", default=str(ROOT / "build" / "examples" / "server" /
                                                "tinfer-server"))
    parser.add_argument("--url", help="measure this running server instead of starting one")
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--requests", type=int, default=2, help="requests per client")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--ctx", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    process, url = (None, args.url) if args.url else start_server(args, max(levels))
    try:
        rows = [run_level(url, c, args) for c in levels]
    finally:
        if process:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)
    print("clients | requests | tokens | wall s | aggregate tok/s | TTFT median s | "
          "per-stream tok/s")
    for r in rows:
        print(f"{r['concurrency']:7} | {r['requests']:8} | {r['generated_tokens']:6} | "
              f"{r['wall_s']:6.1f} | {r['aggregate_tokens_per_s']:15.1f} | "
              f"{r['ttft_median_s']:13.2f} | {r['stream_tokens_per_s_median']:16.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"config": vars(args), "levels": rows}, indent=2))


if __name__ == "__main__":
    main()
