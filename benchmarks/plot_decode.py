#!/usr/bin/env python3
"""Charts of tinfer-bench-decode JSON files (schema: benchmarks/schema/bench_decode.schema.json).

    plot_decode.py RUN.json [OTHER.json ...] [-o results/bench_decode.png]

One PNG: tokens/s against the KV-cache position (log2 x axis) and the step time in ms with
± one standard deviation error bars. Given two or more files (CPU vs CUDA, two commits), their
curves are overlaid and a third panel shows each one's TPS divided by the first file's at every
position both measured. Needs matplotlib (and numpy through it)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402


def load(path: Path) -> dict:
    data = json.loads(path.read_text())
    if data.get("program") != "tinfer-bench-decode" or not data.get("decode"):
        raise ValueError(f"{path}: not a tinfer-bench-decode JSON file")
    return data


def label(path: Path, data: dict) -> str:
    ctx = data["context"]
    return f"{path.stem}: {ctx['backend']} @ {ctx['git_commit']}"


def threads_text(ctx: dict) -> str:
    """The threads the run used, and the request when it differs. Files of schema_version 1 have
    only `threads`, the request: the forward pass ran on one thread then too, whatever it says."""
    if "threads_used" not in ctx:
        return f"{ctx['threads']} threads requested (schema 1: used not recorded)"
    used, requested = ctx["threads_used"], ctx["threads_requested"]
    text = f"{used} thread{'s' if used != 1 else ''}"
    return text if used == requested else f"{text} ({requested} requested)"


def title(runs: List[dict]) -> str:
    ctx = runs[0]["context"]
    cfg = runs[0]["config"]
    return (f"{ctx.get('model_name') or ctx['architecture']} ({ctx['architecture']}), "
            f"KV {ctx['kv_dtype']}, cache {cfg['max_cache_len']}, {cfg['repeats']} repeats\n"
            f"{ctx['cpu_model']}, {threads_text(ctx)}, {ctx['simd']}")


def by_position(data: dict) -> Dict[int, dict]:
    return {row["position"]: row for row in data["decode"]}


def log2_axis(axis) -> None:
    axis.set_xscale("symlog", base=2, linthresh=1)  # position 0 stays on the chart
    axis.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{int(round(x))}"))
    axis.grid(True, which="major", alpha=0.3)


def plot(paths: List[Path], runs: List[dict], out: Path) -> None:
    n_panels = 3 if len(runs) > 1 else 2
    fig, axes = plt.subplots(n_panels, 1, figsize=(9, 3.2 * n_panels + 0.8), sharex=True)
    for path, data in zip(paths, runs):
        rows = data["decode"]
        x = [r["position"] for r in rows]
        line, = axes[0].plot(x, [r["tps"] for r in rows], marker="o", label=label(path, data))
        axes[1].errorbar(x, [r["median_ms"] for r in rows], yerr=[r["sd_ms"] for r in rows],
                         marker="o", capsize=3, color=line.get_color())
    axes[0].set_ylabel("tokens/s (1000 / median)")
    axes[0].legend(fontsize=8)
    axes[1].set_ylabel("decode step ms\n(median ± sd)")
    if n_panels == 3:
        base = by_position(runs[0])
        for path, data in zip(paths[1:], runs[1:]):
            common = sorted(set(base) & set(by_position(data)))
            other = by_position(data)
            axes[2].plot(common, [other[p]["tps"] / base[p]["tps"] for p in common], marker="o",
                         label=f"{label(path, data)} / {paths[0].stem}")
        axes[2].axhline(1.0, color="gray", linewidth=0.8)
        axes[2].set_ylabel("TPS ratio")
        axes[2].legend(fontsize=8)
    for axis in axes:
        log2_axis(axis)
    positions = [r["position"] for data in runs for r in data["decode"]]
    low, high = min(positions), max(positions)
    axes[-1].set_xlim(low * 0.8 if low > 0 else 0, high * 1.25)  # symlog would widen to < 0
    ticks = sorted(set(positions))
    if len(ticks) <= 20:  # label the measured positions themselves (the last is often not 2^k)
        axes[-1].set_xticks(ticks)
        axes[-1].tick_params(axis="x", labelrotation=45)
    axes[-1].set_xlabel("KV-cache position (tokens before the step, log2 scale)")
    fig.suptitle(title(runs), fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="tinfer-bench-decode --json files")
    parser.add_argument("-o", "--output", type=Path, default=Path("results/bench_decode.png"),
                        help="PNG to write (default results/bench_decode.png)")
    args = parser.parse_args(argv)
    try:
        runs = [load(p) for p in args.runs]
    except (OSError, ValueError, KeyError) as error:
        print(f"plot_decode.py: {error}", file=sys.stderr)
        return 1
    plot(args.runs, runs, args.output)
    print(f"plot_decode.py: wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
