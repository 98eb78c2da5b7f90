#!/usr/bin/env python3
"""Writes the reference chat-template renderings that tests/unit/test_chat.c compares against.

The reference is Jinja itself (PyPI `jinja2`), set up the way Hugging Face transformers'
apply_chat_template sets it up (utils/chat_template_utils.py, _compile_jinja_template):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, loopcontrols), the
raise_exception global, and the tokenizer's special tokens (bos_token, eos_token) passed as
variables next to messages / tools=None / add_generation_prompt.

For every template in tests/data/chat/ it writes tests/data/chat/<name>_cases.json.zst (zstd):
  {"template_file": ..., "family": ..., "bos_token": ..., "eos_token": ...,
   "cases": [{"name", "messages": [[role, content], ...], "add_generation_prompt",
              and one of
              "rendered": text                       Jinja rendered it; we must give the same bytes
              "error": message                       Jinja raised; we must return TINFER_E_INVALID_ARG
                                                     (and, for raise_exception, the same message)
              "refused": "E_INVALID_ARG"|"E_UNSUPPORTED", "jinja": what Jinja gave
                                                     roles outside system/user/assistant: refused
                                                     by design (tool messages are out of scope)
             }]}

Usage: python3 tests/conformance/make_chat_reference.py [--data DIR] [--copy-from ../shared/tokenizers]
  --copy-from (re)writes DIR/<name>_tokenizer_config.json from the real tokenizer_config.json,
  keeping only the keys the chat tests read (chat_template, bos_token, eos_token).
Needs: jinja2, zstandard (PyPI).
"""
import argparse
import json
import os
import random
import sys

import jinja2
import jinja2.ext
import zstandard
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Templates copied from ../shared/tokenizers/<name>/tokenizer_config.json, with their family.
REAL = {"gemma3": "gemma", "llama3": "llama3_always_prompt", "qwen3": "qwen3"}

# Templates that are not in ../shared but that real checkpoints publish; their text is recorded
# here with where it comes from (see tests/data/chat/README.md).
EXTRA = {
    # meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json, current revision: the ../shared
    # llama3 template with the final assistant header made conditional.
    "llama3_instruct": {
        "family": "llama3",
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>",
        "chat_template": "{% set loop_messages = messages %}{% for message in loop_messages %}"
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ "
        "message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
        "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
        "{% endif %}",
    },
    # meta-llama/Llama-2-7b-chat-hf tokenizer_config.json (the ../shared llama2 config, from the
    # base model, has no chat_template).
    "llama2_chat": {
        "family": "llama2",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "chat_template": "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
        "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
        "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
        "{% endif %}{% if loop.index0 == 0 and system_message != false %}"
        "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
        "{% else %}{% set content = message['content'] %}{% endif %}"
        "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}"
        "{% endif %}{% endfor %}",
    },
    # The plain ChatML template (transformers' former default_chat_template; used as-is by many
    # fine-tunes such as OpenHermes).
    "chatml": {
        "family": "chatml",
        "bos_token": "<s>",
        "eos_token": "<|im_end|>",
        "chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
        "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|im_start|>assistant\n' }}{% endif %}",
    },
}

KEEP_KEYS = ["chat_template", "bos_token", "eos_token"]


def token_text(value):
    """tokenizer_config.json gives special tokens as a string or as an AddedToken object."""
    if isinstance(value, dict):
        return value.get("content")
    return value


def compile_template(text):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.globals["raise_exception"] = raise_exception
    return env.from_string(text)


def render(template, messages, add_generation_prompt, bos, eos):
    chat = [{"role": r, "content": c} for r, c in messages]
    special = {}
    if bos is not None:
        special["bos_token"] = bos
    if eos is not None:
        special["eos_token"] = eos
    return template.render(messages=chat, tools=None, documents=None,
                           add_generation_prompt=add_generation_prompt, **special)


KO = "안녕하세요? 오늘 서울 날씨는 어때요?\n한국어로 짧게 답해 주세요."
EMOJI = "family: 👨‍👩‍👧‍👦, thumbs: 👍🏽, flag: 🇰🇷"
LONG = ("The quick brown fox jumps over the lazy dog. " * 40).strip()


def conversations():
    """(name, messages, generation-prompt settings to try). Every family gets all of these."""
    both = (True, False)
    S, U, A = "system", "user", "assistant"
    return [
        ("user_only", [(U, "Hello!")], both),
        ("system_user", [(S, "You are a helpful assistant."), (U, "What is 2+2?")], both),
        ("user_assistant", [(U, "Hi"), (A, "Hello! How can I help?")], both),
        ("multi_turn", [(U, "Hi"), (A, "Hello."), (U, "Tell me a joke."),
                        (A, "Why did the chicken cross the road?"), (U, "Why?")], both),
        ("system_multi_turn", [(S, "Be brief."), (U, "Capital of France?"), (A, "Paris."),
                               (U, "And of Korea?")], both),
        ("newlines", [(S, "Line one.\nLine two.\n\nLine four."),
                      (U, "first\nsecond\r\nthird\n"), (A, "a\n\nb")], both),
        ("korean", [(S, "당신은 친절한 비서입니다."), (U, KO), (A, "맑고 따뜻합니다."),
                    (U, "고마워요!")], both),
        ("emoji", [(U, EMOJI)], both),
        ("whitespace_ascii", [(S, "  sys with spaces  "), (U, "\t  padded user \n\n"),
                              (A, "   padded answer\t")], both),
        ("whitespace_unicode", [(U, "\u3000\u00a0ideographic and nbsp\u2003\u2029"),
                                (A, "\x1cseparators\x1f\x85"), (U, "\u200bzero-width stays\u200b")],
         both),
        ("whitespace_only", [(U, " \n\t "), (A, "\u3000")], both),
        ("empty_user", [(U, "")], both),
        ("empty_system", [(S, ""), (U, "hello")], both),
        ("empty_assistant", [(U, "x"), (A, ""), (U, "y")], both),
        ("special_tokens_in_content",
         [(U, "<start_of_turn>model\n<end_of_turn><bos><|im_start|>assistant<|im_end|>"),
          (A, "<|start_header_id|>user<|end_header_id|><|eot_id|><|begin_of_text|>[INST]</s>"),
          (U, "<<SYS>>\nfake\n<</SYS>>")], both),
        ("jinja_syntax_in_content",
         [(S, "{{ bos_token }}{% raise %}"), (U, "{{ raise_exception('x') }} {# c #} {% for %}")],
         both),
        ("long_content", [(U, LONG), (A, LONG)], both),
        ("system_only", [(S, "Only a system message.")], both),
        ("think_in_user", [(U, "<think>not reasoning</think> plain user text")], both),
        ("think_last_assistant", [(U, "q"), (A, "<think>\nstep 1\nstep 2\n</think>\n\nThe answer.")],
         both),
        ("think_middle_assistant", [(U, "q1"), (A, "<think>r1</think>a1"), (U, "q2"),
                                    (A, "<think>\n\nr2\n\n</think>\n\n\na2")], both),
        ("think_after_last_query", [(U, "q"), (A, "<think>r1</think>\n\npart one"),
                                    (A, "part two without tags"), (A, "<think>r3</think>end")], both),
        ("think_nested_tags", [(U, "q"), (A, "a<think>x<think>y\n</think>mid</think>\n\nz")], both),
        ("think_only_close", [(U, "q"), (A, "no open tag</think>answer")], both),
        ("think_empty", [(U, "q"), (A, "<think></think>")], both),
        ("tool_response_user", [(U, "real question"), (A, "calling"),
                                (U, "<tool_response>\n42\n</tool_response>"), (A, "It is 42.")], both),
        ("tool_response_partial", [(U, "<tool_response> only the start"), (A, "ok")], both),
        ("system_later_odd", [(U, "hi"), (S, "late system"), (U, "again")], both),
        ("system_later_even", [(U, "hi"), (A, "hello"), (S, "late system")], both),
        ("two_systems", [(S, "first"), (S, "second"), (U, "u")], both),
        # Role-order errors in the alternating templates.
        ("assistant_first", [(A, "I speak first"), (U, "ok")], both),
        ("two_users", [(U, "one"), (U, "two")], both),
        ("system_assistant", [(S, "sys"), (A, "no user")], both),
        ("user_user_after_system", [(S, "sys"), (U, "a"), (A, "b"), (A, "c")], both),
        ("no_messages", [], both),
        # Roles outside system/user/assistant: refused by design.
        ("role_tool", [(U, "q"), ("tool", "result")], both),
        ("role_unknown", [(U, "q"), ("developer", "x")], (True,)),
        ("role_uppercase", [("User", "q")], (True,)),
    ]


# Pieces that random conversations are made of: every kind of whitespace the templates strip, the
# tags Qwen3 splits on, and text.
FRAGMENTS = ["", " ", "  ", "\n", "\n\n", "\t", "\r\n", "\u3000", "\u00a0", "\x1c", "\u2029",
             "\u200b", "<think>", "</think>", "<tool_response>", "</tool_response>", "<<SYS>>",
             "a", "word", "두 단어", "😀", "{{ x }}", "<|im_end|>", "<end_of_turn>"]


def random_conversations(count, seed=20250101):
    """Seeded random conversations: role orders valid and invalid, contents glued from FRAGMENTS."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        n = rng.randint(1, 6)
        roles = [rng.choice(["system", "user", "user", "assistant", "assistant"]) for _ in range(n)]
        if rng.random() < 0.6:  # mostly well-formed: optional system, then alternation
            start = 1 if roles[0] == "system" else 0
            roles = roles[:start] + [("user", "assistant")[k % 2] for k in range(n - start)]
        messages = [(r, "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 5))))
                    for r in roles]
        out.append((f"random_{i:02d}", messages, (rng.random() < 0.5,)))
    return out


def refusal(messages):
    roles = {r for r, _ in messages}
    if "tool" in roles:
        return "E_UNSUPPORTED"
    if not roles <= {"system", "user", "assistant"}:
        return "E_INVALID_ARG"
    return None


def make_cases(template, bos, eos):
    cases = []
    for name, messages, gens in conversations() + random_conversations(40):
        for gen in gens:
            case = {"name": name + ("+gen" if gen else ""), "messages": [list(m) for m in messages],
                    "add_generation_prompt": gen}
            try:
                result = {"rendered": render(template, messages, gen, bos, eos)}
            except jinja2.exceptions.TemplateError as err:
                kind = type(err).__name__
                result = {"error": str(err), "error_type": kind}
            refused = refusal(messages)
            if refused:
                case["refused"] = refused
                case["jinja"] = result.get("rendered", result.get("error"))
            else:
                case.update(result)
            cases.append(case)
    return cases


def json_text(obj):
    return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json_text(obj))


def write_json_zst(path, obj):
    with open(path, "wb") as f:
        f.write(zstandard.ZstdCompressor(level=19).compress(json_text(obj).encode("utf-8")))


def copy_real_configs(shared, data):
    for name in REAL:
        with open(os.path.join(shared, name, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        kept = {k: config.get(k) for k in KEEP_KEYS}
        write_json(os.path.join(data, name + "_tokenizer_config.json"), kept)


def templates(data):
    """(name, template file, family, template text, bos, eos) for every template we check."""
    out = []
    for name, family in REAL.items():
        path = name + "_tokenizer_config.json"
        with open(os.path.join(data, path), encoding="utf-8") as f:
            config = json.load(f)
        out.append((name, path, family, config["chat_template"], token_text(config.get("bos_token")),
                    token_text(config.get("eos_token"))))
    for name, extra in EXTRA.items():
        path = name + "_template.json"
        write_json(os.path.join(data, path), {k: extra[k] for k in KEEP_KEYS})
        out.append((name, path, extra["family"], extra["chat_template"], extra["bos_token"],
                    extra["eos_token"]))
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(here, "..", "data", "chat"))
    parser.add_argument("--copy-from", help="the ../shared/tokenizers folder")
    args = parser.parse_args()
    if args.copy_from:
        copy_real_configs(args.copy_from, args.data)
    total = 0
    for name, path, family, text, bos, eos in templates(args.data):
        cases = make_cases(compile_template(text), bos, eos)
        write_json_zst(os.path.join(args.data, name + "_cases.json.zst"),
                   {"template_file": path, "family": family, "bos_token": bos, "eos_token": eos,
                    "jinja2_version": jinja2.__version__, "cases": cases})
        total += len(cases)
        print(f"{name}: {len(cases)} cases", file=sys.stderr)
    print(f"total: {total} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
