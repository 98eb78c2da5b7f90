"""Text generation: prompt → tokens → prefill → (sample → decode)* → text pieces."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, List, Optional, Tuple

from tinfer.context import Context
from tinfer.errors import InvalidArgumentError, Status
from tinfer.sampler import Sampler

if TYPE_CHECKING:
    from tinfer.model import Model
    from tinfer.tokenizer import Tokenizer

DEFAULT_N_CTX = 4096


def prompt_tokens(tokenizer: "Tokenizer", prompt: str, chat: bool) -> List[int]:
    """The prompt's ids: with chat=True one user turn through the chat template (which already
    holds BOS), otherwise the text with the tokenizer's own BOS/EOS."""
    if chat:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                             add_generation_prompt=True)
        return tokenizer.encode(text, add_special=False, parse_special=True)
    return tokenizer.encode(prompt)


def generate(model: "Model", prompt: str, *, max_tokens: Optional[int] = 128,
             chat: bool = False, n_ctx: Optional[int] = None, **sampling: Any) -> Iterator[str]:
    """Model.generate's iterator of text pieces (pieces that would be empty are left out)."""
    return _pieces(generate_tokens(model, prompt, max_tokens=max_tokens, chat=chat, n_ctx=n_ctx,
                                   **sampling))


def _pieces(tokens: Iterator[Tuple[Optional[int], str]]) -> Iterator[str]:
    try:
        for _, piece in tokens:
            if piece:
                yield piece
    finally:  # an abandoned iteration frees the context now, not when collected
        tokens.close()  # type: ignore[attr-defined]


def generate_tokens(model: "Model", prompt: str, *, max_tokens: Optional[int] = 128,
                    chat: bool = False, n_ctx: Optional[int] = None,
                    **sampling: Any) -> Iterator[Tuple[Optional[int], str]]:
    """Sets everything up at once (so bad arguments raise here), then returns an iterator of
    (token id, text it made certain) per generated token, and a last (None, held-back text)
    when the stream had text held back. The prompt's tokens and each generated one are given
    to the sampler's penalty history, as llama.cpp's programs do."""
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise InvalidArgumentError(Status.E_INVALID_ARG, "the model carries no tokenizer")
    if max_tokens is not None and max_tokens < 0:
        raise ValueError(f"max_tokens = {max_tokens} is negative")
    tokens = prompt_tokens(tokenizer, prompt, chat)
    if not tokens:
        raise ValueError("the prompt has no tokens")
    sampler = make_sampler(sampling)
    context = make_context(model, len(tokens), max_tokens, n_ctx)
    return _run(context, sampler, tokenizer, tokens, max_tokens)


def make_sampler(sampling: "dict[str, Any]") -> Sampler:
    """A Sampler with Sampler's keywords, checked now; sized at the first row."""
    return Sampler(None, **sampling)


def make_context(model: "Model", n_prompt: int, max_tokens: Optional[int],
                 n_ctx: Optional[int]) -> Context:
    """A one-sequence context for a prompt of n_prompt tokens: n_ctx when given, else room for
    the prompt and max_tokens (DEFAULT_N_CTX more when max_tokens is None), capped at the
    model's training length (but always room for the prompt and one token)."""
    if n_ctx is None:
        room = DEFAULT_N_CTX if max_tokens is None else max_tokens
        n_ctx = n_prompt + max(room, 1)
        n_ctx_train = model.info.n_ctx_train
        if n_ctx_train:
            n_ctx = min(n_ctx, max(n_ctx_train, n_prompt + 1))
    return Context(model, n_ctx=n_ctx, n_seq_max=1)


def _run(context: Context, sampler: Sampler, tokenizer: "Tokenizer", tokens: List[int],
         max_tokens: Optional[int]) -> Iterator[Tuple[Optional[int], str]]:
    stream = tokenizer.stream(skip_special=True)
    try:
        for token in tokens:
            sampler.accept(token)
        context.prefill(tokens)
        produced = 0
        while max_tokens is None or produced < max_tokens:
            token = sampler.sample(context.logits(0))
            if tokenizer.is_eog(token):
                break
            sampler.accept(token)
            produced += 1
            yield token, stream.push(token)
            if context.kv_len(0) >= context.n_ctx:
                break
            context.decode(token)
        tail = stream.flush()
        if tail:
            yield None, tail
    finally:
        stream.close()
        context.close()
        sampler.close()
