#!/usr/bin/env python3
"""Regenerates tests/data/golden/gemma3_270m_q4km.json: llama.cpp's greedy continuations of the
default model, with each step's top-10 logits.

A developer script, not run in CI. It needs the PyPI packages `llama-cpp-python` (which builds
llama.cpp from source; ~15 minutes on 2 cores:
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BLAS=OFF" pip install llama-cpp-python
) and `numpy`.

    python tests/conformance/llamacpp/make_golden.py /tmp/models/gemma-3-270m-q4_k_m.gguf \
        tests/data/golden/gemma3_270m_q4km.json

Prompts are tokenized by llama.cpp itself (BOS added, special tokens parsed), so the ids are
its own. Each prompt is evaluated as one batch, then 32 greedy tokens are generated one at a
time: the same calls tinfer's test makes (tinfer_prefill, then tinfer_decode per token). The
context uses llama.cpp's defaults: F16 K/V cache, no flash attention, and each prompt gets a fresh
context, so that its tokens sit in cache cells 0, 1, 2, ... (a reused context may place them
elsewhere, which changes llama.cpp's float summation order in attention).

Built this way (llama-cpp-python 0.3.36, GGML_NATIVE=OFF: AVX2 + FMA + F16C kernels, weights
repacked, llamafile sgemm on), llama.cpp's logits are bit-identical to tinfer's on an x86-64 CPU.
"""
import hashlib
import json
import os
import sys

import llama_cpp
import numpy as np

N_STEPS = 32
TOP_K = 10

PROMPTS = [
    ("en_capital", "The capital of France is"),
    ("en_story", "Once upon a time, in a small village by the sea, there lived"),
    ("en_science", "Photosynthesis is the process by which plants"),
    ("en_list", "Here are three tips for staying healthy:\n1."),
    ("en_math", "Question: What is 12 plus 30?\nAnswer:"),
    ("ko_greeting", "안녕하세요. 오늘 날씨가"),
    ("ko_history", "대한민국의 수도는 서울이며,"),
    ("code_python", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
    ("code_c", "#include <stdio.h>\n\nint main(void) {\n"),
    ("chat_capital",
     "<start_of_turn>user\nWhat is the capital of Japan?<end_of_turn>\n<start_of_turn>model\n"),
    ("chat_poem",
     "<start_of_turn>user\nWrite a haiku about autumn leaves.<end_of_turn>\n"
     "<start_of_turn>model\n"),
    ("mixed_translate", "Translate to Korean: 'Good morning, how are you?'\nKorean:"),
]


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def top_k(logits):
    ids = np.argsort(-logits, kind="stable")[:TOP_K]
    return [[int(i), round(float(logits[i]), 4)] for i in ids]


def run_prompt(model_path, text):
    llm = llama_cpp.Llama(model_path, n_ctx=512, n_batch=512, n_threads=os.cpu_count(),
                          logits_all=True, verbose=False)
    ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
    llm.eval(ids)
    steps = []
    for _ in range(N_STEPS):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        token = int(np.argmax(logits))
        steps.append({"token": token, "top": top_k(logits)})
        llm.eval([token])
    return ids, steps


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model_path, out_path = sys.argv[1], sys.argv[2]
    prompts = []
    for name, text in PROMPTS:
        ids, steps = run_prompt(model_path, text)
        prompts.append({"name": name, "text": text, "ids": ids, "steps": steps})
        print(name, len(ids), "prompt tokens ->", [s["token"] for s in steps[:8]], "...")
    golden = {
        "reference": "llama.cpp via llama-cpp-python " + llama_cpp.__version__,
        "model_file": os.path.basename(model_path),
        "model_sha256": file_sha256(model_path),
        "settings": "F16 KV cache, no flash attention, a fresh context per prompt, prompt as "
                    "one batch, then one token per eval; greedy; x86-64 AVX2/FMA/F16C build",
        "n_steps": N_STEPS,
        "top_k": TOP_K,
        "prompts": prompts,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
