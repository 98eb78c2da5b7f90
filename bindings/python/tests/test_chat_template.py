"""Tokenizer.apply_chat_template against the Jinja renderings in tests/data/chat (made by
tests/conformance/make_chat_reference.py with jinja2 set up as transformers does), through
tokenizers loaded from tests/data/tokenizers/<name> (tokenizer.json + tokenizer_config.json)."""

from __future__ import annotations

import json

import pytest

import tinfer
from conftest import ROOT, TOKENIZER_DATA

zstandard = pytest.importorskip("zstandard", reason="zstandard reads the .zst reference data")

CHAT_DATA = ROOT / "tests" / "data" / "chat"
REFUSED = {"E_INVALID_ARG": tinfer.InvalidArgumentError, "E_UNSUPPORTED": tinfer.UnsupportedError}


def cases(name: str) -> list:
    raw = (CHAT_DATA / f"{name}_cases.json.zst").read_bytes()
    data = json.loads(zstandard.ZstdDecompressor().decompress(raw, max_output_size=1 << 28))
    return data["cases"]


@pytest.mark.parametrize("name", ["gemma3", "llama3", "qwen3"])
def test_renderings_equal_jinja(name: str):
    all_cases = cases(name)
    assert len(all_cases) > 50
    with tinfer.Tokenizer.load(TOKENIZER_DATA / name) as tokenizer:
        for case in all_cases:
            messages = [tuple(m) for m in case["messages"]]
            render = lambda: tokenizer.apply_chat_template(  # noqa: E731
                messages, add_generation_prompt=case["add_generation_prompt"])
            if "rendered" in case:
                assert render() == case["rendered"], case["name"]
                # dict messages work the same as pairs
                as_dicts = [{"role": r, "content": c} for r, c in messages]
                assert tokenizer.apply_chat_template(
                    as_dicts, add_generation_prompt=case["add_generation_prompt"]) \
                    == case["rendered"]
            elif "error" in case:
                with pytest.raises(tinfer.InvalidArgumentError):
                    render()
            else:
                with pytest.raises(REFUSED[case["refused"]]):
                    render()


def test_rendered_chat_tokenizes_with_its_bos_once():
    with tinfer.Tokenizer.load(TOKENIZER_DATA / "gemma3") as tokenizer:
        text = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}])
        ids = tokenizer.encode(text, add_special=False)
        assert ids[0] == tokenizer.bos and ids.count(tokenizer.bos) == 1
        assert tokenizer.decode(ids) == text
