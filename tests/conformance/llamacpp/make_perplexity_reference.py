#!/usr/bin/env python3
"""Regenerates tests/data/perplexity/reference.json: the perplexity llama.cpp (through
llama-cpp-python) gives the default model on tests/data/perplexity/public_domain.txt, computed as
llama.cpp's `perplexity` program computes it (examples/perplexity/perplexity.cpp):

  - the text is tokenized with BOS added and special-token text not parsed
    (`Llama.tokenize(text, add_bos=True, special=False)`, llama.cpp's common_tokenize(..., true));
  - it is cut into n_chunk = len(tokens) // n_ctx chunks of n_ctx tokens, the first token of each
    replaced by BOS;
  - each chunk is evaluated from a fresh context (so its tokens sit in cache cells 0, 1, ...; see
    make_golden.py) in one batch of n_ctx tokens with logits_all=True;
  - with first = n_ctx // 2, the logits of tokens first .. n_ctx - 2 are scored against the next
    token: nll = -(logit[next] - max - log(sum(exp(logit - max)))), the maximum in float32, the
    exponentials of the float32 differences summed in float64 (llama.cpp's log_softmax);
  - after chunk i the running perplexity exp(mean nll) is recorded ("[i]ppl" in llama.cpp's
    output); the final estimate is
    PPL = exp(mean nll) +/- PPL * sqrt((E[nll^2] - E[nll]^2) / (N - 1)).

A developer script, not run in CI: it needs llama-cpp-python (0.3.36 here) and numpy, built as
make_golden.py says (GGML_NATIVE=OFF: the x86-64-v3 build whose logits tinfer's exact kernels
reproduce bit for bit; its system_info is recorded in reference.json). A native build (AVX-512
here) rounds differently and gives a perplexity that differs in the third digit:

    python3 -m venv /work/llama-venv-v3
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BLAS=OFF" /work/llama-venv-v3/bin/pip install \
        --no-cache-dir numpy llama-cpp-python==0.3.36
    /work/llama-venv-v3/bin/python tests/conformance/llamacpp/make_perplexity_reference.py \
        models/gemma-3-270m-q4_k_m.gguf tests/data/perplexity/public_domain.txt 128 \
        tests/data/perplexity/reference.json
"""
import hashlib
import json
import math
import os
import sys

import llama_cpp
import numpy as np


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def provenance(generator, model_path, text_path):
    """The fields that say how a reference over a text was made: the script, llama.cpp's build and
    the two input files' names and hashes."""
    return {
        "generator": generator,
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode().strip(),
        "model": os.path.basename(model_path),
        "model_sha256": file_sha256(model_path),
        "text": os.path.basename(text_path),
        "text_sha256": file_sha256(text_path),
    }


def nll_of(row, next_token):
    row = np.asarray(row, dtype=np.float32)
    max_logit = row.max()
    sum_exp = np.exp((row - max_logit).astype(np.float32).astype(np.float64)).sum()
    return -(float(row[next_token] - max_logit) - math.log(sum_exp))


def main():
    if len(sys.argv) != 5:
        sys.exit(f"usage: {sys.argv[0]} MODEL TEXT N_CTX OUT.json")
    model_path, text_path, n_ctx, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with open(text_path, "rb") as f:
        text = f.read()

    def load():
        return llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx,
                               logits_all=True, n_threads=2, verbose=False)

    llm = load()
    tokens = llm.tokenize(text, add_bos=True, special=False)
    bos = llm.token_bos()
    add_bos = bool(tokens) and tokens[0] == bos
    n_chunk = len(tokens) // n_ctx
    if n_chunk < 2:
        sys.exit(f"{len(tokens)} tokens: fewer than two chunks of {n_ctx}")
    first = n_ctx // 2
    nll = nll2 = 0.0
    count = 0
    chunks = []
    for c in range(n_chunk):
        window = list(tokens[c * n_ctx:(c + 1) * n_ctx])
        if add_bos:
            window[0] = bos
        if c > 0:
            llm = load()  # a fresh context: the chunk's tokens in cells 0, 1, ...
        llm.reset()
        llm.eval(window)
        scores = np.asarray(llm.scores[:n_ctx], dtype=np.float32)
        chunk_nll = 0.0
        for j in range(first, n_ctx - 1):
            v = nll_of(scores[j], window[j + 1])
            nll += v
            nll2 += v * v
            chunk_nll += v
            count += 1
        ppl = math.exp(nll / count)
        print(f"[{c + 1}]{ppl:.4f},", end="", file=sys.stderr, flush=True)
        chunks.append({"chunk": c + 1, "ppl_running": ppl,
                       "nll_mean": chunk_nll / (n_ctx - 1 - first)})
    print(file=sys.stderr)
    mean = nll / count
    ppl = math.exp(mean)
    spread = nll2 / count - mean * mean
    stderr = math.sqrt(spread / (count - 1)) * ppl if spread > 0 else float("nan")
    print(f"Final estimate: PPL = {ppl:.4f} +/- {stderr:.5f}")
    reference = {
        **provenance("tests/conformance/llamacpp/make_perplexity_reference.py", model_path,
                     text_path),
        "n_ctx": n_ctx,
        "n_batch": n_ctx,
        "add_bos": add_bos,
        "n_tokens": len(tokens),
        "n_chunks": n_chunk,
        "scored_tokens": count,
        "ppl": ppl,
        "ppl_stderr": stderr,
        "nll_mean": mean,
        "chunks": chunks,
        "tokens": list(map(int, tokens)),
    }
    with open(out_path, "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
