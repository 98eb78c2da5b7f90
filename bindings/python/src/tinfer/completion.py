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


def _generate_records(context: "Context", sampler: "Sampler", tokenizer: "Tokenizer",
                      tokens: List[int], max_tokens: Optional[int], stop: StopStrings,
                      run: _Run, top_logprobs: Optional[int]
                      ) -> Iterator[Tuple[str, List["_TokenLogprob"]]]:
    """Prefills the prompt, then samples and decodes until an end-of-generation token ("stop"),
    a stop string ("stop"), max_tokens or a full context ("length"). Yields text as it becomes
    certain (never a broken UTF-8 character, never a possible start of a stop string), each
    with the logprob records of the tokens sampled since the previous piece (top_logprobs not
    None: the chosen token's and the top_logprobs best, from the raw logits; else none). Frees
    the context and sampler at the end, also when abandoned."""
    stream = tokenizer.stream(skip_special=True)
    records: List[_TokenLogprob] = []
    try:
        for token in tokens:
            sampler.accept(token)
        context.prefill(tokens)
        while True:
            if max_tokens is not None and run.completion_tokens >= max_tokens:
                run.finish_reason = "length"
                break
            row = context.logits(0)
            token = sampler.sample(row)
            if tokenizer.is_eog(token):
                run.finish_reason = "stop"
                break
            if top_logprobs is not None:
                records.append(_token_logprob(tokenizer, row, token, top_logprobs))
            sampler.accept(token)
            run.completion_tokens += 1
            text = stop.push(stream.push(token))
            if text:
                yield text, records
                records = []
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
        else:
            text = ""
        if text or records:
            yield text, records
    finally:
        stream.close()
        context.close()
        sampler.close()


# ---- 0.3: logprobs and logit_bias in the OpenAI shapes ----
@dataclass
class _TokenLogprob:
    """One sampled token: its bytes and log-probability, and the top alternatives."""

    piece: bytes
    logprob: float
    top: List[Tuple[bytes, float]]


def _token_logprob(tokenizer: "Tokenizer", row: Any, token: int, n_top: int) -> _TokenLogprob:
    from tinfer.sampler import logprobs

    chosen, top = logprobs(row, token, n_top)
    return _TokenLogprob(tokenizer.token_piece(token), float(chosen or 0.0),
                         [(tokenizer.token_piece(t), lp) for t, lp in top])


def _text(piece: bytes) -> str:
    return piece.decode("utf-8", errors="replace")


def _chat_logprobs(records: List[_TokenLogprob]) -> Dict[str, Any]:
    """OpenAI chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}."""
    def entry(piece: bytes, logprob: float) -> Dict[str, Any]:
        return {"token": _text(piece), "logprob": logprob, "bytes": list(piece)}

    return {"content": [dict(entry(r.piece, r.logprob),
                             top_logprobs=[entry(p, lp) for p, lp in r.top]) for r in records]}


def _text_logprobs(records: List[_TokenLogprob], offset: int) -> Dict[str, Any]:
    """OpenAI (legacy) completions: tokens, token_logprobs, top_logprobs, text_offset."""
    offsets = []
    for r in records:
        offsets.append(offset)
        offset += len(_text(r.piece))
    return {"tokens": [_text(r.piece) for r in records],
            "token_logprobs": [r.logprob for r in records],
            "top_logprobs": [{_text(p): lp for p, lp in r.top} for r in records],
            "text_offset": offsets}


def _logprob_options(logprobs: Union[bool, int, None],
                     top_logprobs: Optional[int]) -> Optional[int]:
    """The number of top tokens to report, or None when logprobs are off. logprobs may be an
    int (the legacy completions API: that many top tokens)."""
    if logprobs is None or logprobs is False:
        if top_logprobs:
            raise ValueError("top_logprobs needs logprobs=True")
        return None
    n_top = int(logprobs) if not isinstance(logprobs, bool) else int(top_logprobs or 0)
    if logprobs is not True and top_logprobs is not None:
        n_top = int(top_logprobs)
    if not 0 <= n_top <= 20:
        raise ValueError(f"top_logprobs = {n_top} is outside [0, 20]")
    return n_top
# ---- end of the 0.3 logprobs block ----


def _sampling(temperature: Optional[float], top_p: Optional[float], top_k: Optional[int],
              seed: Optional[int], extra: Mapping[str, Any]) -> Dict[str, Any]:
    params = dict(extra)
    for name, value in (("temperature", temperature), ("top_p", top_p), ("top_k", top_k),
                        ("seed", seed)):
        if value is not None:
            params[name] = value
    return params


def _start(model: "Model", tokens: List[int], max_tokens: Optional[int], stop: Stop,
           n_ctx: Optional[int], sampling: Dict[str, Any], top_logprobs: Optional[int] = None,
           logit_bias: Optional[Mapping[Any, float]] = None
           ) -> Tuple[Iterator[Tuple[str, List[_TokenLogprob]]], _Run]:
    """Checks everything and allocates at once (bad arguments raise here, not at the first
    next()), and returns the lazy text iterator with its run record."""
    if max_tokens is not None and max_tokens < 0:
        raise ValueError(f"max_tokens = {max_tokens} is negative")
    if not tokens:
        raise ValueError("the prompt has no tokens")
    stops = StopStrings(stop)
    tokenizer = _tokenizer(model)
    sampler = make_sampler(sampling)
    if logit_bias:
        sampler.set_logit_bias({int(t): float(b) for t, b in logit_bias.items()})
    context = make_context(model, len(tokens), max_tokens, n_ctx)
    run = _Run(prompt_tokens=len(tokens))
    return _generate_records(context, sampler, tokenizer, tokens, max_tokens, stops, run,
                             top_logprobs), run


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
                    n_ctx: Optional[int] = None, logprobs: Optional[bool] = None,
                    top_logprobs: Optional[int] = None,
                    logit_bias: Optional[Mapping[Any, float]] = None,
                    **sampling: Any) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
    """Model.chat: see there."""
    _, tokens = render_chat(model, messages)
    n_top = _logprob_options(logprobs, top_logprobs)
    texts, run = _start(model, tokens, max_tokens, stop, n_ctx,
                        _sampling(temperature, top_p, top_k, seed, sampling), n_top, logit_bias)
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
            "created": int(time.time()), "model": model.name}
    if stream:
        return _chat_chunks(dict(head, object="chat.completion.chunk"), texts, run,
                            n_top is not None)
    pieces, records = _join(texts)
    return dict(head, choices=[{
        "index": 0, "message": {"role": "assistant", "content": pieces},
        "logprobs": _chat_logprobs(records) if n_top is not None else None,
        "finish_reason": run.finish_reason}], usage=_usage(run))


def _join(texts: Iterator[Tuple[str, List[_TokenLogprob]]]) -> Tuple[str, List[_TokenLogprob]]:
    pieces: List[str] = []
    records: List[_TokenLogprob] = []
    for text, recs in texts:
        pieces.append(text)
        records.extend(recs)
    return "".join(pieces), records


def _chat_chunks(head: Dict[str, Any], texts: Iterator[Tuple[str, List[_TokenLogprob]]],
                 run: _Run, with_logprobs: bool = False) -> Iterator[Dict[str, Any]]:
    def chunk(delta: Dict[str, str], finish: Optional[str],
              records: Optional[List[_TokenLogprob]] = None) -> Dict[str, Any]:
        lp = _chat_logprobs(records) if with_logprobs and records is not None else None
        return dict(head, choices=[{
            "index": 0, "delta": delta, "logprobs": lp, "finish_reason": finish}])

    try:
        yield chunk({"role": "assistant", "content": ""}, None)
        for text, records in texts:
            yield chunk({"content": text}, None, records)
        last = chunk({}, run.finish_reason)
        last["usage"] = _usage(run)
        yield last
    finally:
        texts.close()  # type: ignore[attr-defined]


def text_completion(model: "Model", prompt: str, *, max_tokens: Optional[int] = 16,
                    temperature: Optional[float] = None, top_p: Optional[float] = None,
                    top_k: Optional[int] = None, seed: Optional[int] = None, stop: Stop = None,
                    stream: bool = False, n_ctx: Optional[int] = None,
                    logprobs: Union[bool, int, None] = None, top_logprobs: Optional[int] = None,
                    logit_bias: Optional[Mapping[Any, float]] = None,
                    **sampling: Any) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
    """Model.complete: see there."""
    tokens = _tokenizer(model).encode(prompt)
    n_top = _logprob_options(logprobs, top_logprobs)
    texts, run = _start(model, tokens, max_tokens, stop, n_ctx,
                        _sampling(temperature, top_p, top_k, seed, sampling), n_top, logit_bias)
    head = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion",
            "created": int(time.time()), "model": model.name}
    if stream:
        return _text_chunks(head, texts, run, n_top is not None)
    text, records = _join(texts)
    return dict(head, choices=[{"index": 0, "text": text,
                                "logprobs": _text_logprobs(records, 0)
                                if n_top is not None else None,
                                "finish_reason": run.finish_reason}], usage=_usage(run))


def _text_chunks(head: Dict[str, Any], texts: Iterator[Tuple[str, List[_TokenLogprob]]],
                 run: _Run, with_logprobs: bool = False) -> Iterator[Dict[str, Any]]:
    offset = 0

    def chunk(text: str, finish: Optional[str],
              records: Optional[List[_TokenLogprob]] = None) -> Dict[str, Any]:
        lp = _text_logprobs(records, offset) if with_logprobs and records is not None else None
        return dict(head, choices=[{"index": 0, "text": text, "logprobs": lp,
                                    "finish_reason": finish}])

    try:
        for text, records in texts:
            yield chunk(text, None, records)
            offset += sum(len(_text(r.piece)) for r in records)
        last = chunk("", run.finish_reason)
        last["usage"] = _usage(run)
        yield last
    finally:
        texts.close()  # type: ignore[attr-defined]
