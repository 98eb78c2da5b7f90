"""OpenAI-shaped completions (Model.chat, Model.complete): the dicts' shapes, usage counts, greedy
output equal to Context + Sampler driven by hand over the C library's chat rendering, stop strings
cut exactly (also across token boundaries, streamed or not), streamed chunks adding up to the
whole reply, finish_reason "length" and "stop" (at EOS), on a tiny synthetic model with a Llama 2
chat template and on the default model when present."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

import tinfer
from tinfer.completion import StopStrings
from conftest import ROOT, require_context_api

LLAMA2_TEMPLATE = json.loads(
    (ROOT / "tests" / "data" / "chat" / "llama2_chat_template.json").read_text())["chat_template"]
MESSAGES = [{"role": "system", "content": "Answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "Paris."},
            {"role": "user", "content": "And the capital of Italy?"}]
TINY_MESSAGES = [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": "the cat sat on"}]


@pytest.fixture(scope="module")
def tiny_chat_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_model import write_tiny_model

    path = tmp_path_factory.mktemp("tiny_chat") / "tiny-llama-chat.gguf"
    write_tiny_model(path, chat_template=LLAMA2_TEMPLATE)
    return path


@pytest.fixture(scope="module")
def tiny_chat(tiny_chat_path: Path):
    require_context_api()
    with tinfer.Model(tiny_chat_path) as model:
        yield model


@pytest.fixture(params=["tiny", "default"])
def chat_case(request) -> Tuple[tinfer.Model, List[Dict[str, str]], int]:
    """(model, conversation, tokens to generate) for each model."""
    require_context_api()
    if request.param == "tiny":
        return request.getfixturevalue("tiny_chat"), TINY_MESSAGES, 24
    return request.getfixturevalue("default_model"), MESSAGES, 32


@dataclass
class HandRun:
    prompt_ids: List[int]
    ids: List[int]      # generated, end-of-generation token excepted
    pieces: List[str]   # the streaming detokenizer's text for each id
    tail: str           # its flush()
    eog: bool           # stopped at an end-of-generation token

    @property
    def text(self) -> str:
        return "".join(self.pieces) + self.tail


def by_hand(model: tinfer.Model, ids: List[int], n: int) -> HandRun:
    """Greedy generation written out with Context, Sampler and DetokStream."""
    tok = model.tokenizer
    out, pieces, eog = [], [], False
    with tinfer.Context(model, n_ctx=len(ids) + n + 1) as context, \
            tinfer.Sampler(temperature=0) as sampler, tok.stream(skip_special=True) as stream:
        context.prefill(ids)
        while len(out) < n:
            token = sampler.sample(context.logits(0))
            if tok.is_eog(token):
                eog = True
                break
            out.append(token)
            pieces.append(stream.push(token))
            context.decode(token)
        return HandRun(ids, out, pieces, stream.flush(), eog)


def chat_by_hand(model: tinfer.Model, messages, n: int) -> HandRun:
    rendered = model.tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    return by_hand(model, model.tokenizer.encode(rendered, add_special=False), n)


def content_of_stream(chunks: List[dict]) -> str:
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)


def check_chat_shape(reply: dict, model: tinfer.Model) -> None:
    assert set(reply) == {"id", "object", "created", "model", "choices", "usage"}
    assert reply["object"] == "chat.completion" and reply["id"].startswith("chatcmpl-")
    assert isinstance(reply["created"], int) and reply["model"] == model.name
    (choice,) = reply["choices"]
    assert choice["index"] == 0 and choice["logprobs"] is None
    assert choice["finish_reason"] in ("stop", "length")
    assert set(choice["message"]) == {"role", "content"}
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    usage = reply["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def check_chunks_shape(chunks: List[dict], reply_id_prefix: str = "chatcmpl-") -> None:
    assert len(chunks) >= 2
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith(reply_id_prefix)
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert len(c["choices"]) == 1 and c["choices"][0]["index"] == 0
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"][0]["delta"] == {}
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert all(set(c["choices"][0]["delta"]) == {"content"} and c["choices"][0]["delta"]["content"]
               for c in chunks[1:-1])


def test_chat_equals_greedy_by_hand_with_usage_and_length(chat_case):
    model, messages, n = chat_case
    hand = chat_by_hand(model, messages, n)
    reply = model.chat(messages, max_tokens=n, temperature=0)
    check_chat_shape(reply, model)
    assert reply["choices"][0]["message"]["content"] == hand.text
    rendered = model.tokenizer.apply_chat_template(messages)
    assert reply["usage"]["prompt_tokens"] == len(model.tokenizer.encode(rendered,
                                                                         add_special=False))
    assert reply["usage"]["prompt_tokens"] == len(hand.prompt_ids)
    assert reply["usage"]["completion_tokens"] == len(hand.ids)
    if not hand.eog:  # the run reached max_tokens
        assert len(hand.ids) == n and reply["choices"][0]["finish_reason"] == "length"
    else:
        assert reply["choices"][0]["finish_reason"] == "stop"
    # (role, content) pairs work as dicts do
    pairs = [(m["role"], m["content"]) for m in messages]
    assert model.chat(pairs, max_tokens=n, temperature=0)["choices"][0]["message"] == \
        reply["choices"][0]["message"]


def test_streamed_chunks_add_up_to_the_reply(chat_case):
    model, messages, n = chat_case
    reply = model.chat(messages, max_tokens=n, temperature=0)
    chunks = list(model.chat(messages, max_tokens=n, temperature=0, stream=True))
    check_chunks_shape(chunks)
    assert content_of_stream(chunks) == reply["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == reply["choices"][0]["finish_reason"]
    assert chunks[-1]["usage"] == reply["usage"]


def test_max_tokens_gives_length(chat_case):
    model, messages, _ = chat_case
    reply = model.chat(messages, max_tokens=3, temperature=0)
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] == 3
    zero = model.chat(messages, max_tokens=0)
    assert zero["choices"][0]["message"]["content"] == ""
    assert zero["choices"][0]["finish_reason"] == "length"
    assert zero["usage"]["completion_tokens"] == 0


def boundary_stop(hand: HandRun) -> Optional[Tuple[str, int, int]]:
    """A stop string made of the end of one generated token's text and the start of the next
    one's, that first occurs exactly there: (stop, where it starts, tokens generated when it
    completes)."""
    text = hand.text
    ends = []  # where each token's text ends
    for piece in hand.pieces:
        ends.append((ends[-1] if ends else 0) + len(piece))
    # Text without U+FFFD first; a tiny random model may emit little else (a run of byte tokens
    # that is not UTF-8 turns into one U+FFFD per byte), and then a stop string may hold some.
    for allow_replacement in (False, True):
        for k in range(1, len(hand.pieces) - 1):
            left, right = hand.pieces[k], hand.pieces[k + 1]
            for n_left, n_right in ((2, 2), (1, 2), (2, 1), (1, 1)):
                if len(left) < n_left or len(right) < n_right:
                    continue
                start = ends[k] - n_left
                stop = text[start:ends[k] + n_right]
                clean = allow_replacement or "\ufffd" not in stop
                if clean and stop.strip() and text.find(stop) == start:
                    return stop, start, k + 2
    return None


def test_stop_string_across_a_token_boundary_is_cut_exactly(chat_case):
    model, messages, n = chat_case
    hand = chat_by_hand(model, messages, n)
    found = boundary_stop(hand)
    assert found is not None, f"no usable token boundary in {hand.text!r}"
    stop, start, n_tokens = found
    expected = hand.text[:start]
    for stops in ([stop], stop, ["never in the text \u2603", stop]):
        reply = model.chat(messages, max_tokens=n, temperature=0, stop=stops)
        assert reply["choices"][0]["message"]["content"] == expected, stop
        assert reply["choices"][0]["finish_reason"] == "stop"
        assert reply["usage"]["completion_tokens"] == n_tokens
        chunks = list(model.chat(messages, max_tokens=n, temperature=0, stop=stops,
                                 stream=True))
        check_chunks_shape(chunks)
        assert content_of_stream(chunks) == expected
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    # a longer stop string that shares the start but never completes: everything comes back,
    # including the text held back while it might have been one
    reply = model.chat(messages, max_tokens=n, temperature=0, stop=stop + "\u2603")
    assert reply["choices"][0]["message"]["content"] == hand.text
    assert reply["choices"][0]["finish_reason"] == ("stop" if hand.eog else "length")


def test_complete_is_a_text_completion(chat_case):
    model, _, n = chat_case
    prompt = "the cat sat" if model.name.startswith("tiny") else "The capital of France is"
    hand = by_hand(model, model.tokenizer.encode(prompt), n)
    reply = model.complete(prompt, max_tokens=n, temperature=0)
    assert set(reply) == {"id", "object", "created", "model", "choices", "usage"}
    assert reply["object"] == "text_completion" and reply["id"].startswith("cmpl-")
    (choice,) = reply["choices"]
    assert choice["text"] == hand.text and choice["logprobs"] is None
    assert reply["usage"] == {"prompt_tokens": len(hand.prompt_ids),
                              "completion_tokens": len(hand.ids),
                              "total_tokens": len(hand.prompt_ids) + len(hand.ids)}
    assert model.generate(prompt, max_tokens=n, temperature=0, stream=False) == hand.text
    chunks = list(model.complete(prompt, max_tokens=n, temperature=0, stream=True))
    assert all(c["object"] == "text_completion" for c in chunks)
    assert "".join(c["choices"][0]["text"] for c in chunks) == hand.text
    assert chunks[-1]["choices"][0]["finish_reason"] == choice["finish_reason"]
    found = boundary_stop(hand)
    assert found is not None
    stop, start, _ = found
    assert model.complete(prompt, max_tokens=n, temperature=0,
                          stop=[stop])["choices"][0]["text"] == hand.text[:start]
    streamed = model.complete(prompt, max_tokens=n, temperature=0, stop=[stop], stream=True)
    assert "".join(c["choices"][0]["text"] for c in streamed) == hand.text[:start]


def test_end_of_generation_token_gives_stop(tiny_chat: tinfer.Model, tmp_path: Path):
    """The same weights with a token the greedy run produces named as EOS: the reply ends just
    before it, finish_reason "stop"."""
    from tiny_model import write_tiny_model

    hand = chat_by_hand(tiny_chat, TINY_MESSAGES, 24)
    k = next(i for i in range(3, len(hand.ids)) if hand.ids[i] not in hand.ids[:i])
    path = tmp_path / "tiny-eos.gguf"
    write_tiny_model(path, chat_template=LLAMA2_TEMPLATE, eos_token_id=hand.ids[k])
    with tinfer.Model(path) as model:
        assert model.tokenizer.is_eog(hand.ids[k])
        expected = chat_by_hand(model, TINY_MESSAGES, 24)
        assert expected.eog and expected.ids == hand.ids[:k]
        reply = model.chat(TINY_MESSAGES, max_tokens=24, temperature=0)
        assert reply["choices"][0]["finish_reason"] == "stop"
        assert reply["choices"][0]["message"]["content"] == expected.text
        assert reply["usage"]["completion_tokens"] == k
        chunks = list(model.chat(TINY_MESSAGES, max_tokens=24, temperature=0, stream=True))
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert content_of_stream(chunks) == expected.text


def test_sampling_options_reach_the_sampler(tiny_chat: tinfer.Model):
    def run(**options) -> str:
        reply = tiny_chat.chat(TINY_MESSAGES, max_tokens=16, **options)
        return reply["choices"][0]["message"]["content"]

    sampled = dict(temperature=1.5, top_k=0, top_p=1.0, min_p=0.0)
    assert run(seed=7, **sampled) == run(seed=7, **sampled)
    assert any(run(seed=s, **sampled) != run(seed=7, **sampled) for s in (8, 9, 10))
    assert run(temperature=0) == run(temperature=0.5, top_k=1)  # top_k=1 is greedy
    with pytest.raises(tinfer.InvalidArgumentError):
        tiny_chat.chat(TINY_MESSAGES, temperature=-1)
    with pytest.raises(TypeError):
        tiny_chat.chat(TINY_MESSAGES, no_such_option=1)
    with pytest.raises(ValueError):
        tiny_chat.chat(TINY_MESSAGES, max_tokens=-1)


def test_abandoned_stream_ends(tiny_chat: tinfer.Model):
    chunks = tiny_chat.chat(TINY_MESSAGES, max_tokens=50, temperature=0, stream=True)
    first = next(chunks)
    assert first["choices"][0]["delta"]["role"] == "assistant"
    chunks.close()  # type: ignore[attr-defined]
    with pytest.raises(StopIteration):
        next(chunks)


def test_model_without_a_chat_template_refuses_chat(tiny_model_path: Path):
    require_context_api()
    with tinfer.Model(tiny_model_path) as model:
        with pytest.raises(tinfer.UnsupportedError):
            model.chat(TINY_MESSAGES)


@pytest.mark.parametrize("pushes, stops, expected, stopped", [
    (["Hel", "lo wor", "ld"], ["lo w"], "Hel", True),
    (["a", "b", "c", "d"], ["bc"], "a", True),
    (["ab", "cd"], ["bcx"], "abcd", False),        # held "bc" comes back at the end
    (["xx", "END", "yy"], ["END", "xE"], "x", True),  # the earliest match wins
    (["x", "xEN", "D"], ["ND", "xEN"], "x", True),
    (["aaa", "ab"], ["aab"], "aa", True),           # overlapping partial matches
    (["héllo ", "wörld"], ["o w"], "héll", True),
    (["plain text"], [], "plain text", False),
    (["plain text"], [""], "plain text", False),     # an empty stop string is ignored
])
def test_stop_strings_hold_back_only_what_could_still_match(pushes, stops, expected, stopped):
    cut = StopStrings(stops)
    out = [cut.push(piece) for piece in pushes]
    out.append(cut.flush())
    assert "".join(out) == expected and cut.stopped == stopped


def test_stop_string_split_character_by_character():
    text = "one two three four"
    for stop in ("two", "o t", "e f", "four", "r"):
        cut = StopStrings([stop])
        out = "".join(cut.push(ch) for ch in text) + cut.flush()
        assert out == text[:text.find(stop)]
