"""OpenAI-shaped completions: Model.chat (chat.completion) and Model.complete (text_completion),
whole or streamed, with stop strings, on top of Context, Sampler and the streaming detokenizer.

The chat prompt is the model's own chat template rendered by the C library
(tinfer_chat_apply), tokenized with special-token parsing and without a second BOS."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import (TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

from tinfer.errors import InvalidArgumentError, Status
from tinfer.generate import make_context, make_sampler
from tinfer.tokenizer import Message

if TYPE_CHECKING:
    from tinfer.context import Context
    from tinfer.model import Model
    from tinfer.sampler import Sampler
    from tinfer.tokenizer import Tokenizer

Stop = Union[str, Sequence[str], None]


class StopStrings:
    """Cuts generated text at the first of some stop strings, also when one spans several
    pushes (tokens). push() returns the text that is now certain: text that could still be the
    start of a stop string is held back until the next push decides it. Once a stop string is
    complete, `stopped` is True and the text from the stop string on is dropped."""

    def __init__(self, stop: Stop) -> None:
        strings = [stop] if isinstance(stop, str) else list(stop or [])
        for s in strings:
            if not isinstance(s, str):
                raise TypeError(f"stop strings must be str, not {type(s).__name__}")
        self.strings = [s for s in strings if s]  # "" would stop before anything
        self.held = ""
        self.stopped = False

    def push(self, text: str) -> str:
        """Adds text; returns what can be given out now ("" when all of it is held back)."""
        if self.stopped:
            return ""
        pending = self.held + text
        cut = min((i for i in (pending.find(s) for s in self.strings) if i >= 0), default=-1)
        if cut >= 0:
            self.held, self.stopped = "", True
            return pending[:cut]
        keep = self._partial_suffix(pending)
        self.held = pending[len(pending) - keep:] if keep else ""
        return pending[:len(pending) - keep]

    def flush(self) -> str:
        """The held-back text, when generation ended without completing a stop string."""
        held, self.held = self.held, ""
        return "" if self.stopped else held

    def _partial_suffix(self, text: str) -> int:
        """Length of the longest end of text that is a proper start of some stop string."""
        best = 0
        for s in self.strings:
            for k in range(min(len(s) - 1, len(text)), best, -1):
                if text.endswith(s[:k]):
                    best = k
                    break
        return best


@dataclass
class _Run:
    """One generation's state, shared by the whole and the streamed forms."""

    prompt_tokens: int
    completion_tokens: int = 0
    finish_reason: Optional[str] = None


def _generate_text(context: "Context", sampler: "Sampler", tokenizer: "Tokenizer",
                   tokens: List[int], max_tokens: Optional[int], stop: StopStrings,
                   run: _Run) -> Iterator[str]:
    """Prefills the prompt, then samples and decodes until an end-of-generation token ("stop"),
    a stop string ("stop"), max_tokens or a full context ("length"). Yields text as it becomes
    certain (never a broken UTF-8 character, never a possible start of a stop string). Frees
    the context and sampler at the end, also when abandoned."""
    stream = tokenizer.stream(skip_special=True)
    try:
        for token in tokens:
            sampler.accept(token)
        context.prefill(tokens)
        while True:
            if max_tokens is not None and run.completion_tokens >= max_tokens:
                run.finish_reason = "length"
                break
            token = sampler.sample(context.logits(0))
            if tokenizer.is_eog(token):
                run.finish_reason = "stop"
                break
            sampler.accept(token)
            run.completion_tokens += 1
            text = stop.push(stream.push(token))
            if text:
                yield text
            if stop.stopped:
                run.finish_reason = "stop"
                break
            if context.kv_len(0) >= context.n_ctx:
                run.finish_reason = "length"
                break
            context.decode(token)
        if not stop.stopped:
            text = stop.push(stream.flush())
            if stop.stopped:
                run.finish_reason = "stop"
            text += stop.flush()
            if text:
                yield text
    finally:
        stream.close()
        context.close()
        sampler.close()


def _sampling(temperature: Optional[float], top_p: Optional[float], top_k: Optional[int],
              seed: Optional[int], extra: Mapping[str, Any]) -> Dict[str, Any]:
    params = dict(extra)
    for name, value in (("temperature", temperature), ("top_p", top_p), ("top_k", top_k),
                        ("seed", seed)):
        if value is not None:
            params[name] = value
    return params


def _start(model: "Model", tokens: List[int], max_tokens: Optional[int], stop: Stop,
           n_ctx: Optional[int], sampling: Dict[str, Any]) -> Tuple[Iterator[str], _Run]:
    """Checks everything and allocates at once (bad arguments raise here, not at the first
    next()), and returns the lazy text iterator with its run record."""
    if max_tokens is not None and max_tokens < 0:
        raise ValueError(f"max_tokens = {max_tokens} is negative")
    if not tokens:
        raise ValueError("the prompt has no tokens")
    stops = StopStrings(stop)
    tokenizer = _tokenizer(model)
    sampler = make_sampler(sampling)
    context = make_context(model, len(tokens), max_tokens, n_ctx)
    run = _Run(prompt_tokens=len(tokens))
    return _generate_text(context, sampler, tokenizer, tokens, max_tokens, stops, run), run


def _tokenizer(model: "Model") -> "Tokenizer":
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise InvalidArgumentError(Status.E_INVALID_ARG, "the model carries no tokenizer")
    return tokenizer


def render_chat(model: "Model", messages: Sequence[Message]) -> Tuple[str, List[int]]:
    """The conversation through the model's chat template (tinfer_chat_apply) with the
    assistant's turn opened, and its token ids (specials parsed, no BOS added: the template
    holds it)."""
    tokenizer = _tokenizer(model)
    text = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True)
    return text, tokenizer.encode(text, add_special=False, parse_special=True)


def _usage(run: _Run) -> Dict[str, int]:
    return {"prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens,
            "total_tokens": run.prompt_tokens + run.completion_tokens}


def chat_completion(model: "Model", messages: Sequence[Message], *,
                    max_tokens: Optional[int] = None, temperature: Optional[float] = None,
                    top_p: Optional[float] = None, top_k: Optional[int] = None,
                    seed: Optional[int] = None, stop: Stop = None, stream: bool = False,
                    n_ctx: Optional[int] = None,
                    **sampling: Any) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
    """Model.chat: see there."""
    _, tokens = render_chat(model, messages)
    texts, run = _start(model, tokens, max_tokens, stop, n_ctx,
                        _sampling(temperature, top_p, top_k, seed, sampling))
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
            "created": int(time.time()), "model": model.name}
    if stream:
        return _chat_chunks(dict(head, object="chat.completion.chunk"), texts, run)
    content = "".join(texts)
    return dict(head, choices=[{
        "index": 0, "message": {"role": "assistant", "content": content},
        "logprobs": None, "finish_reason": run.finish_reason}], usage=_usage(run))


def _chat_chunks(head: Dict[str, Any], texts: Iterator[str],
                 run: _Run) -> Iterator[Dict[str, Any]]:
    def chunk(delta: Dict[str, str], finish: Optional[str]) -> Dict[str, Any]:
        return dict(head, choices=[{
            "index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])

    try:
        yield chunk({"role": "assistant", "content": ""}, None)
        for text in texts:
            yield chunk({"content": text}, None)
        last = chunk({}, run.finish_reason)
        last["usage"] = _usage(run)
        yield last
    finally:
        texts.close()  # type: ignore[attr-defined]


def text_completion(model: "Model", prompt: str, *, max_tokens: Optional[int] = 16,
                    temperature: Optional[float] = None, top_p: Optional[float] = None,
                    top_k: Optional[int] = None, seed: Optional[int] = None, stop: Stop = None,
                    stream: bool = False, n_ctx: Optional[int] = None,
                    **sampling: Any) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
    """Model.complete: see there."""
    tokens = _tokenizer(model).encode(prompt)
    texts, run = _start(model, tokens, max_tokens, stop, n_ctx,
                        _sampling(temperature, top_p, top_k, seed, sampling))
    head = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion",
            "created": int(time.time()), "model": model.name}
    if stream:
        return _text_chunks(head, texts, run)
    text = "".join(texts)
    return dict(head, choices=[{"index": 0, "text": text, "logprobs": None,
                                "finish_reason": run.finish_reason}], usage=_usage(run))


def _text_chunks(head: Dict[str, Any], texts: Iterator[str],
                 run: _Run) -> Iterator[Dict[str, Any]]:
    def chunk(text: str, finish: Optional[str]) -> Dict[str, Any]:
        return dict(head, choices=[{"index": 0, "text": text, "logprobs": None,
                                    "finish_reason": finish}])

    try:
        for text in texts:
            yield chunk(text, None)
        last = chunk("", run.finish_reason)
        last["usage"] = _usage(run)
        yield last
    finally:
        texts.close()  # type: ignore[attr-defined]
