"""Serving scenarios against OpenAI-compatible servers: tinfer-server and llama-cpp-python's
`python -m llama_cpp.server` (or any server at --url), one comparison report.

    .venv/bin/python benchmarks/serve/bench_serve.py --quick -m models/gemma-3-270m-q4_k_m.gguf

starts each server of --servers (same GGUF, threads and per-sequence n_ctx; --parallel where
the server has it) on a free loopback port, runs every scenario on each server in turn with the
async `openai` client (streamed completions at temperature 0, at most C requests in flight; the
servers alternate per scenario, so a shared machine's drifting load falls on all alike), stops
them, and writes report.json (benchmarks/schema/bench_serve.schema.json), report.md and PNG charts
into --out. Scenarios, each with the expectation it is judged against (stated before it runs):

  single          one request at a time, short / medium / long prompt
  concurrency     C clients at once for C in 1, 2, 4, 8 (and 16 without --quick)
  long_context    one prompt of 4,000 tokens (2,000 with --quick; 8,000 too with --ctx >= 8704)
  shared_prefix   requests that share one ~1,000-token system prompt, one after another: the
                  first is cold, the others may reuse its prefix (hit vs miss TTFT)
  korean          Korean prompts, alone and four at once

Per scenario: time to first token (TTFT), time per output token after the first (TPOT), the gaps
between streamed chunks (inter-token latency), each as p50/p95/p99; output tokens/s and
requests/s over the scenario's wall time; success rate; the server's RSS (/proc/PID/status,
VmRSS after the scenario and VmHWM, the peak so far).

Requests go to /v1/completions with plain-text prompts (system text, a blank line, the question)
by default, so every server sees the same tokens: llama-cpp-python finds no chat template in
this GGUF and falls back to llama-2's, and its "gemma" format drops system messages.
--endpoint chat measures each server's own chat path instead. Token counts are the server's own
(stream_options.include_usage) where it sends them, else the number of content chunks."""

import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import openai

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_VERSION = 1
LLAMA_PYTHON = "/work/llama-venv/bin/python"

# ------------------------------------------------------------------------------------ prompts

TOPICS = ["the history of the bicycle", "how bread rises", "why the sea is salty",
          "the life of honey bees", "how a lighthouse works", "the rules of chess",
          "the water cycle", "how trains are signalled", "the migration of birds",
          "how paper is made", "the phases of the moon", "how bridges carry loads",
          "the invention of printing", "how volcanoes form", "the growth of cities",
          "how clocks keep time"]


# Tokens per word of filler() text: the Gemma 3 tokenizer makes 5,245 tokens of 4,000 words and
# 1,321 of 1,000 (Llama- and Qwen-family tokenizers are within a few percent of it).
TOKENS_PER_WORD = 1.31


def filler_tokens(n_tokens, seed=0):
    """filler() text of about n_tokens tokens."""
    return filler(round(n_tokens / TOKENS_PER_WORD), seed)


def filler(n_words, seed=0):
    """Plain English sentences of n_words words (about 1.3 tokens each), all different."""
    words, i = [], seed
    while len(words) < n_words:
        topic = TOPICS[i % len(TOPICS)]
        words += f"Note {i}: a careful reader studies {topic} and writes one clear fact.".split()
        i += 1
    return " ".join(words[:n_words])


SHORT = [f"In two sentences, explain {t}." for t in TOPICS]
KOREAN = ["한국의 수도는 어디인가요? 간단히 설명해 주세요.",
          "김치를 만드는 방법을 세 단계로 알려 주세요.",
          "가을에 산책하기 좋은 이유를 짧게 써 주세요.",
          "바다와 산 중에서 어디로 여행을 가고 싶은지 이유와 함께 말해 주세요.",
          "다음 글을 한 문장으로 요약해 주세요: " + " ".join(
              f"{i}번째 문단: 서울은 오래된 궁궐과 새로운 건물이 함께 있는 도시이며, 사람들은 "
              f"지하철과 버스로 이동하고 저녁에는 한강 공원에서 쉬는 것을 좋아합니다."
              for i in range(1, 9))]
SYSTEM_1K = " ".join(f"Rule {i}: be polite, precise and brief when answering question {i}."
                     for i in range(60))

# ------------------------------------------------------------------------------------ servers


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, process, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "/v1/models", timeout=5) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


class Started:
    """A server process this program started (its stderr goes to a log file in --out)."""

    def __init__(self, name, argv, port, log_path, env=None):
        self.name, self.argv = name, argv
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT, env=env)
        self.url = f"http://127.0.0.1:{port}"
        self.pid = self.process.pid

    def rss_mib(self):
        """(VmRSS, VmHWM) in MiB from /proc/PID/status, or (None, None)."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None, None
        kib = {k: int(v) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M)}
        return kib.get("VmRSS", 0) / 1024, kib.get("VmHWM", 0) / 1024

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


def start_tinfer(args, out_dir):
    port = free_port()
    argv = [args.tinfer_server, "-m", args.model, "--port", str(port), "--parallel",
            str(args.parallel), "--ctx", str(args.ctx), "--threads", str(args.threads),
            "--head-sum", args.head_sum, "--kv-dtype", args.kv_dtype,
            "--prefault", args.prefault]
    return Started("tinfer", argv, port, out_dir / "server-tinfer.log")


def start_llama_cpp_python(args, out_dir):
    port = free_port()
    # one sequence (no --parallel); interrupt_requests off, else a second stream cancels the first
    argv = [args.llama_python, "-m", "llama_cpp.server", "--model", args.model, "--host",
            "127.0.0.1", "--port", str(port), "--n_ctx", str(args.ctx), "--n_threads",
            str(args.threads), "--n_threads_batch", str(args.threads), "--interrupt_requests",
            "False", "--verbose", "False"]
    return Started("llama-cpp-python", argv, port, out_dir / "server-llama-cpp-python.log")


STARTERS = {"tinfer": start_tinfer, "llama-cpp-python": start_llama_cpp_python}

# ------------------------------------------------------------------------------------ requests


def chunk_text(chunk):
    if not chunk.choices:
        return None
    choice = chunk.choices[0]
    return choice.delta.content if hasattr(choice, "delta") else choice.text


async def one_request(client, messages, max_tokens, endpoint):
    """Streams one completion; times its chunks. With endpoint "completions" the messages are
    joined as plain text (system, a blank line, user), no chat template."""
    started = time.monotonic()
    arrivals, text, usage_tokens, prompt_tokens = [], [], None, None
    common = {"model": "m", "max_tokens": max_tokens, "temperature": 0, "stream": True,
              "stream_options": {"include_usage": True}}
    try:
        if endpoint == "chat":
            stream = await client.chat.completions.create(messages=messages, **common)
        else:
            prompt = "\n\n".join(m["content"] for m in messages) + "\n"
            stream = await client.completions.create(prompt=prompt, **common)
        async for chunk in stream:
            if chunk.usage:
                usage_tokens = chunk.usage.completion_tokens
                prompt_tokens = chunk.usage.prompt_tokens
            piece = chunk_text(chunk)
            if piece:
                arrivals.append(time.monotonic() - started)
                text.append(piece)
    except openai.APIError as error:
        return {"ok": False, "error": str(error)[:300], "elapsed_s": time.monotonic() - started}
    elapsed = time.monotonic() - started
    tokens = usage_tokens if usage_tokens is not None else len(arrivals)
    if not arrivals:
        return {"ok": False, "error": "no text", "elapsed_s": elapsed}
    ttft = arrivals[0]
    return {"ok": True, "ttft_s": ttft, "elapsed_s": elapsed, "output_tokens": tokens,
            "prompt_tokens": prompt_tokens,
            "tpot_s": (elapsed - ttft) / (tokens - 1) if tokens > 1 else None,
            "itl_s": [b - a for a, b in zip(arrivals, arrivals[1:])], "text": "".join(text)}


async def run_batch(url, requests, concurrency, max_tokens, endpoint, sequential=False):
    """Runs every request (a messages list), at most `concurrency` at once; (results, wall_s)."""
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="none", max_retries=0,
                                timeout=1800)
    gate = asyncio.Semaphore(1 if sequential else concurrency)

    async def gated(messages):
        async with gate:
            return await one_request(client, messages, max_tokens, endpoint)

    started = time.monotonic()
    results = await asyncio.gather(*(gated(m) for m in requests))
    wall = time.monotonic() - started
    await client.close()
    return list(results), wall


def user(text, system=None):
    return ([{"role": "system", "content": system}] if system else []) + \
        [{"role": "user", "content": text}]

# ------------------------------------------------------------------------------------ statistics


def percentiles(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None

    def pick(q):  # nearest rank
        return values[min(len(values) - 1, max(0, int(round(q * len(values) + 0.5)) - 1))]

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99),
            "mean": statistics.fmean(values), "n": len(values)}


def summarize(results, wall_s):
    ok = [r for r in results if r["ok"]]
    tokens = sum(r["output_tokens"] for r in ok)
    prompt = [r["prompt_tokens"] for r in ok if r.get("prompt_tokens")]
    return {"requests": len(results), "succeeded": len(ok),
            "success_rate": len(ok) / len(results) if results else 0.0,
            "wall_s": wall_s, "output_tokens": tokens,
            "output_tokens_per_s": tokens / wall_s if wall_s > 0 else 0.0,
            "requests_per_s": len(ok) / wall_s if wall_s > 0 else 0.0,
            "prompt_tokens_mean": statistics.fmean(prompt) if prompt else None,
            "ttft_s": percentiles(r["ttft_s"] for r in ok),
            "tpot_s": percentiles(r["tpot_s"] for r in ok),
            "itl_s": percentiles(g for r in ok for g in r["itl_s"]),
            "errors": sorted({r["error"] for r in results if not r["ok"]})[:5]}


def p50(summary, key):
    value = summary.get(key)
    return value["p50"] if value else None

# ------------------------------------------------------------------------------------ scenarios


def scenarios(args):
    """(name, group, expectation, request list, concurrency, sequential); long prompts are sized
    in words (single_*) or tokens (long_context_*); --scenarios keeps those whose names start
    with one of its prefixes."""
    q = args.quick
    n_single = 1 if q else 3
    out = []
    for size, words in (("short", 0), ("medium", 250), ("long", 1000)):
        prompts = [SHORT[i] if words == 0 else
                   filler(words, seed=100 * i) + f"\n\nIn two sentences, what is note {i}?"
                   for i in range(n_single)]
        out.append((f"single_{size}", "single",
                    "one request at a time: TTFT grows with the prompt (short < medium < long), "
                    "TPOT stays about the same", [user(p) for p in prompts], 1, True))
    levels = [1, 2, 4, 8] + ([] if q else [16])
    for c in levels:
        per_client = 1 if q else 2
        out.append((f"concurrency_{c}", "concurrency",
                    "every request succeeds; output tokens/s at C clients is at least 0.8x that of "
                    "one client (batching never costs throughput)",
                    [user(SHORT[i % len(SHORT)]) for i in range(c * per_client)], c, False))
    # sized in tokens, as the scenarios are named: an 8,000-token prompt and its answer fit 8,704
    long_tokens = [2000] if q else [4000] + ([8000] if args.ctx >= 8704 else [])
    for tokens in long_tokens:
        out.append((f"long_context_{tokens // 1000}k", "long_context",
                    f"a ~{tokens}-token prompt succeeds within --ctx {args.ctx}; its prefill rate "
                    "(prompt tokens / TTFT) is at least half that of the 1,000-word prompt",
                    [user(filler_tokens(tokens, seed=7) +
                          "\n\nSummarize the notes above in one sentence.")],
                    1, True))
    n_shared = 4 if q else 8
    out.append(("shared_prefix", "shared_prefix",
                f"{n_shared} requests, one after another, with one ~1,000-token system prompt: the "
                "first is cold; the median TTFT of the others is at most half of the first's "
                "(the prefix is reused)",
                [user(f"What does rule {3 + 5 * i} say?", SYSTEM_1K) for i in range(n_shared)],
                1, True))
    out.append(("korean_single", "korean",
                "Korean prompts one at a time: every request succeeds with text; TPOT within 1.5x "
                "of the English single_short",
                [user(p) for p in KOREAN[:2 if q else 5]], 1, True))
    out.append(("korean_concurrency_4", "korean",
                "four Korean prompts at once: every request succeeds with text",
                [user(p) for p in (KOREAN * 2)[:4]], 4, False))
    if args.scenarios:
        prefixes = [p.strip() for p in args.scenarios.split(",") if p.strip()]
        out = [s for s in out if any(s[0].startswith(p) for p in prefixes)]
    return out


def judge(name, summary, by_name, results):
    """Whether a scenario's expectation held (True/False), and why, on this server's numbers."""
    if summary["success_rate"] < 1.0:
        return False, f"{summary['requests'] - summary['succeeded']} request(s) failed"
    if name.startswith("single_"):
        ttfts = [p50(by_name.get(f"single_{s}", {}), "ttft_s") for s in ("short", "medium", "long")]
        if name != "single_long" or None in ttfts:
            return None, "judged with single_long"
        tpots = [p50(by_name[f"single_{s}"], "tpot_s") for s in ("short", "medium", "long")]
        grows = ttfts[0] < ttfts[1] < ttfts[2]
        steady = None not in tpots and max(tpots) <= 2 * min(tpots)
        return grows and steady, (f"TTFT {ttfts[0]:.2f} / {ttfts[1]:.2f} / {ttfts[2]:.2f} s; "
                                  f"TPOT max/min {max(tpots) / min(tpots):.2f}"
                                  if None not in tpots else "no TPOT")
    if name.startswith("concurrency_"):
        base = by_name.get("concurrency_1")
        if not base or name == "concurrency_1":
            return True, "all succeeded"
        ratio = summary["output_tokens_per_s"] / base["output_tokens_per_s"]
        return ratio >= 0.8, f"{ratio:.2f}x the tokens/s of one client"
    if name.startswith("long_context"):
        ref = by_name.get("single_long")
        rate = summary["prompt_tokens_mean"] / p50(summary, "ttft_s") \
            if summary["prompt_tokens_mean"] else None
        ref_rate = ref["prompt_tokens_mean"] / p50(ref, "ttft_s") \
            if ref and ref["prompt_tokens_mean"] else None
        if rate is None or ref_rate is None:
            return None, "no prompt token counts"
        return rate >= 0.5 * ref_rate, f"prefill {rate:.0f} tok/s vs {ref_rate:.0f} tok/s"
    if name == "shared_prefix":
        first = results[0]["ttft_s"]
        rest = statistics.median(r["ttft_s"] for r in results[1:])
        return rest <= 0.5 * first, f"first {first:.2f} s, others' median {rest:.2f} s"
    if name == "korean_single":
        ref = p50(by_name.get("single_short", {}), "tpot_s")
        mine = p50(summary, "tpot_s")
        if ref is None or mine is None:
            return None, "no TPOT"
        return mine <= 1.5 * ref, f"TPOT {mine * 1e3:.0f} ms vs {ref * 1e3:.0f} ms"
    return True, "all succeeded with text"


def metrics_of(url):
    """tinfer-server's prefix-cache counters (None from another server)."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    found = dict(re.findall(r"^(tinfer_prefix_cache_\w+) (\S+)$", text, re.M))
    return {k: float(v) for k, v in found.items()} or None


def run_scenario(scen, name, server, url, args, by_name):
    """One scenario on one server; by_name holds this server's earlier summaries."""
    scen_name, group, expectation, requests, concurrency, sequential = scen
    print(f"[{name}] {scen_name}: {expectation}", flush=True)
    before = metrics_of(url)
    results, wall = asyncio.run(run_batch(url, requests, concurrency, args.max_tokens,
                                          args.endpoint, sequential))
    summary = summarize(results, wall)
    by_name[scen_name] = summary
    held, why = judge(scen_name, summary, by_name, results)
    after = metrics_of(url)
    rss, hwm = server.rss_mib() if server else (None, None)
    row = {"scenario": scen_name, "group": group, "expectation": expectation,
           "concurrency": concurrency, "sequential": sequential, **summary,
           "expectation_held": held, "verdict": why, "server_rss_mib": rss,
           "server_peak_rss_mib": hwm, "ttft_each_s": [r.get("ttft_s") for r in results]}
    if before and after:
        row["prefix_cache"] = {k: after[k] - before.get(k, 0) for k in after
                               if k.endswith("_total")}
    print(f"[{name}] {scen_name}: {summary['succeeded']}/{summary['requests']} ok, "
          f"TTFT p50 {p50(summary, 'ttft_s') or 0:.2f} s, "
          f"{summary['output_tokens_per_s']:.1f} tok/s -> {held} ({why})", flush=True)
    return row


# ------------------------------------------------------------------------------------ report


def fmt(value, scale=1.0, digits=2):
    return "–" if value is None else f"{value * scale:.{digits}f}"


def markdown(report):
    servers = [s["name"] for s in report["servers"]]
    lines = [f"# Serving benchmark ({report['mode']})", "",
             f"{report['started']}, {report['machine']['cpu_model']}, "
             f"{report['machine']['cores']} cores, load average at start "
             f"{report['machine']['load_average_start']}. Model `{report['config']['model']}`, "
             f"threads {report['config']['threads']}, n_ctx {report['config']['ctx']} per "
             f"sequence, parallel {report['config']['parallel']} (tinfer-server; "
             "llama-cpp-python serves one request at a time), max_tokens "
             f"{report['config']['max_tokens']}, temperature 0, streamed "
             f"{report['config']['endpoint']} requests.", ""]
    for s in report["servers"]:
        lines.append(f"- {s['name']}: `{' '.join(s['command'])}`" if s["command"] else
                     f"- {s['name']}: {s['url']}")
    lines += ["", "| scenario | server | ok | prompt tok | TTFT p50/p95/p99 s | TPOT p50 ms | "
              "ITL p50/p95/p99 ms | out tok/s | req/s | RSS MiB | expectation held |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for scen in report["scenarios"]:
        for name in servers:
            r = next((x for x in report["results"][name] if x["scenario"] == scen["name"]), None)
            if not r:
                continue
            t, i = r["ttft_s"] or {}, r["itl_s"] or {}
            held = {True: "yes", False: "**no**", None: "–"}[r["expectation_held"]]
            lines.append(
                f"| {scen['name']} | {name} | {r['succeeded']}/{r['requests']} | "
                f"{fmt(r['prompt_tokens_mean'], digits=0)} | "
                f"{fmt(t.get('p50'))}/{fmt(t.get('p95'))}/{fmt(t.get('p99'))} | "
                f"{fmt(p50(r, 'tpot_s'), 1e3, 0)} | "
                f"{fmt(i.get('p50'), 1e3, 0)}/{fmt(i.get('p95'), 1e3, 0)}/"
                f"{fmt(i.get('p99'), 1e3, 0)} | {fmt(r['output_tokens_per_s'], digits=1)} | "
                f"{fmt(r['requests_per_s'], digits=3)} | {fmt(r['server_rss_mib'], digits=0)} | "
                f"{held}: {r['verdict']} |")
    lines += ["", "## Expectations", ""]
    for scen in report["scenarios"]:
        lines.append(f"- **{scen['name']}**: {scen['expectation']}")
    for name in servers:
        shared = next((x for x in report["results"][name] if x["scenario"] == "shared_prefix"),
                      None)
        if shared and shared.get("prefix_cache"):
            pc = shared["prefix_cache"]
            lines.append(f"\n{name} prefix cache during shared_prefix: "
                         f"{pc.get('tinfer_prefix_cache_hits_total', 0):.0f} hits, "
                         f"{pc.get('tinfer_prefix_cache_misses_total', 0):.0f} misses, "
                         f"{pc.get('tinfer_prefix_cache_tokens_saved_total', 0):.0f} "
                         "prompt tokens not prefilled.")
    lines += ["", "Charts: " + ", ".join(f"`{c}`" for c in report["charts"]), ""]
    return "\n".join(lines)


def charts(report, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    servers = [s["name"] for s in report["servers"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in servers:
        rows = [r for r in report["results"][name] if r["group"] == "concurrency"]
        ax.plot([r["concurrency"] for r in rows], [r["output_tokens_per_s"] for r in rows],
                marker="o", label=name)
    ax.set_xlabel("clients at once")
    ax.set_ylabel("output tokens/s")
    ax.set_xscale("log", base=2)
    ax.set_title("Throughput against concurrency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "concurrency.png", dpi=110)
    made.append("concurrency.png")
    plt.close(fig)

    names = [s["name"] for s in report["scenarios"]]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(1, len(servers))
    for k, name in enumerate(servers):
        by = {r["scenario"]: r for r in report["results"][name]}
        ax.bar([i + k * width for i in range(len(names))],
               [p50(by[n], "ttft_s") or 0 if n in by else 0 for n in names], width, label=name)
    ax.set_xticks([i + width * (len(servers) - 1) / 2 for i in range(len(names))])
    ax.set_xticklabels(names, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("TTFT p50, s")
    ax.set_yscale("log")
    ax.set_title("Time to first token by scenario")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "ttft.png", dpi=110)
    made.append("ttft.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in servers:
        row = next((r for r in report["results"][name] if r["scenario"] == "shared_prefix"), None)
        if row:
            ax.plot(range(1, len(row["ttft_each_s"]) + 1), row["ttft_each_s"], marker="o",
                    label=name)
    ax.set_xlabel("request (same ~1,000-token system prompt)")
    ax.set_ylabel("TTFT, s")
    ax.set_title("Shared prefix: first (cold) against the rest")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "shared_prefix.png", dpi=110)
    made.append("shared_prefix.png")
    plt.close(fig)
    return made


def machine():
    cpu = "unknown"
    try:
        cpu = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(),
                        re.M).group(1)
    except (OSError, AttributeError):
        pass
    return {"cpu_model": cpu, "cores": os.cpu_count() or 1, "platform": platform.platform(),
            "load_average_start": [round(x, 2) for x in os.getloadavg()]}


def git_commit():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", default=str(ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"))
    parser.add_argument("--servers", default="tinfer,llama-cpp-python",
                        help="which to start, in order (tinfer, llama-cpp-python)")
    parser.add_argument("--url", help="measure this running server instead (no RSS)")
    parser.add_argument("--tinfer-server", default=str(ROOT / "build" / "examples" / "server" /
                                                       "tinfer-server"))
    parser.add_argument("--llama-python", default=LLAMA_PYTHON,
                        help="a Python with llama-cpp-python[server]")
    parser.add_argument("--quick", action="store_true",
                        help="one request per scenario step, short outputs (a few minutes)")
    parser.add_argument("--ctx", type=int, default=4096, help="tokens per sequence")
    parser.add_argument("--parallel", type=int, default=0,
                        help="tinfer-server's --parallel (default: the largest concurrency)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--head-sum", choices=["exact", "fast"], default="fast",
                        help="tinfer-server's --head-sum (the output head's float order; "
                             "default fast, the server's own default)")
    parser.add_argument("--kv-dtype", choices=["f16", "q8_0"], default="f16",
                        help="tinfer-server's --kv-dtype (its KV cache's element type)")
    parser.add_argument("--prefault", choices=["on", "off"], default="on",
                        help="tinfer-server's --prefault (the KV cache resident from the start, "
                             "or taken as requests reach it)")
    parser.add_argument("--max-tokens", type=int, default=0,
                        help="output tokens per request (default 16 with --quick, else 64)")
    parser.add_argument("--endpoint", choices=["completions", "chat"], default="completions",
                        help="completions (default): plain-text prompts, the same tokens for "
                        "every server; chat: each server's own chat template")
    parser.add_argument("--out", default=str(ROOT / "build" / "bench_serve"))
    parser.add_argument("--scenarios", default="",
                        help="run only the scenarios whose names start with one of these "
                             "comma-separated prefixes (e.g. long_context,shared_prefix)")
    args = parser.parse_args()
    args.max_tokens = args.max_tokens or (16 if args.quick else 64)
    args.parallel = args.parallel or (8 if args.quick else 16)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"program": "bench_serve.py", "schema_version": SCHEMA_VERSION,
              "mode": "quick" if args.quick else "full",
              "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds"),
              "git_commit": git_commit(), "machine": machine(),
              "config": {"model": args.model, "endpoint": args.endpoint,
                         "threads": args.threads, "ctx": args.ctx,
                         "parallel": args.parallel, "max_tokens": args.max_tokens,
                         "head_sum": args.head_sum, "kv_dtype": args.kv_dtype,
                         "prefault": args.prefault},
              "scenarios": [{"name": s[0], "group": s[1], "expectation": s[2],
                             "requests": len(s[3]), "concurrency": s[4]}
                            for s in scenarios(args)],
              "servers": [], "results": {}}
    targets = [("server", None)] if args.url else \
        [(n.strip(), STARTERS[n.strip()]) for n in args.servers.split(",")]
    # Every server is up at once (an idle one costs no CPU) and each scenario runs on each in
    # turn, so that a shared machine's changing load falls on all of them alike.
    running = []
    try:
        for name, start in targets:
            server = start(args, out_dir) if start else None
            url = server.url if server else args.url
            if server and not wait_ready(url, server.process, 300):
                sys.exit(f"bench_serve: {name} did not start; see {server.log.name}")
            # one untimed request first: a server's first one pays for lazy set-up
            asyncio.run(run_batch(url, [user("Hello.")], 1, 4, args.endpoint))
            running.append((name, server, url, server.rss_mib()[0] if server else None))
            report["results"][name] = []
        by_name = {name: {} for name, _, _, _ in running}
        for scen in scenarios(args):
            for name, server, url, _ in running:
                report["results"][name].append(
                    run_scenario(scen, name, server, url, args, by_name[name]))
    finally:
        for name, server, url, rss_start in running:
            status = server.stop() if server else None
            report["servers"].append({"name": name, "url": url,
                                      "command": server.argv if server else [],
                                      "rss_at_start_mib": rss_start, "exit_status": status})
    report["charts"] = charts(report, out_dir)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    text = markdown(report)
    (out_dir / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
