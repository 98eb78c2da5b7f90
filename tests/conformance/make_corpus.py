#!/usr/bin/env python3
"""Writes the tokenizer conformance corpus: tests/data/tokenizers/corpus.jsonl.zst.

One JSON object per line: {"text": "..."} for valid UTF-8, or {"hex": "..."} for raw bytes that are
not valid UTF-8 (JSON strings cannot hold them). Texts may contain newlines, tabs and any other
character; the JSON escapes keep one text per line. Deterministic (fixed seed), self-contained:
every snippet below is written here, so regenerating gives the same bytes.

Usage: python3 tests/conformance/make_corpus.py [--out PATH] [--lines N]
Needs: zstandard (PyPI).
"""
import argparse
import json
import os
import random

import zstandard

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "In the beginning the Universe was created. This has made a lot of people very angry.",
    "Tokenizers split text into pieces that a language model can read, one id at a time.",
    "She said, \"I'll be there at 5 o'clock\" — but she didn't come until half past six.",
    "Don't, won't, can't, shouldn't've, y'all're, it's, we'd, they'll, I'M, YOU'RE, HE'S.",
    "Mr. O'Neil paid $1,234.56 for 3 books (about €1.100) on 2024-03-15 at 10:45 a.m.",
    "The mitochondria is the powerhouse of the cell; ATP synthase turns a proton gradient into energy.",
    "Call me Ishmael. Some years ago—never mind how long precisely—having little money in my purse.",
    "Résumé, naïve, café, coöperate, façade, jalapeño, Zürich, São Paulo, Kraków, Ærøskøbing.",
    "E = mc², ∑ᵢ xᵢ² ≤ ∫₀¹ f(x) dx, α + β = γ, √2 ≈ 1.41421356, ∞ ≠ −∞, ½ + ¼ = ¾.",
    "Visit https://example.com/path?query=a+b&x=1#frag or mail admin@example.org for help.",
    "Version 3.11.4 fixed CVE-2023-12345; see PR #4821 and commit 9f8e7d6c5b4a.",
    "A man, a plan, a canal: Panama! Was it a car or a cat I saw? No lemon, no melon.",
    "ALL CAPS SENTENCES ARE SOMETIMES USED FOR EMPHASIS, BUT THEY TOKENIZE DIFFERENTLY.",
    "hyphenated-words, snake_case_names, camelCaseNames, PascalCaseNames and kebab-case-names.",
    "The year 1969 saw 3 astronauts fly 384,400 km; 600,000,000 people watched on TV.",
    "Twas brillig, and the slithy toves did gyre and gimble in the wabe.",
    "I have a dream that one day this nation will rise up and live out the true meaning of its creed.",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic.",
]
KOREAN = [
    "안녕하세요, 만나서 반갑습니다.",
    "대한민국의 수도는 서울특별시입니다.",
    "오늘 날씨가 정말 좋네요. 산책하러 갈까요?",
    "한국어 자연어 처리는 형태소 분석이 중요합니다.",
    "저는 학생이고, 컴퓨터 공학을 전공하고 있어요.",
    "훈민정음은 세종대왕이 1443년에 창제하였다.",
    "김치찌개와 된장찌개 중에 뭐가 더 맛있어요?",
    "이 문제의 정답은 ③번입니다. 풀이를 확인하세요.",
    "인공지능 모델의 성능을 벤치마크로 평가했습니다.",
    "ㄱㄴㄷㄹ ㅏㅑㅓㅕ ㅋㅋㅋ ㅎㅎ ㅠㅠ",
    "서울 강남구 테헤란로 123, 10층 (우편번호 06234)",
    "다음 중 옳지 않은 것을 고르시오. (가) 철수 (나) 영희 (다) 민수",
]
CHINESE = [
    "你好，世界！今天天气很好。",
    "中华人民共和国成立于一九四九年。",
    "机器学习是人工智能的一个分支。",
    "我们在北京大学学习计算机科学。",
    "学而时习之，不亦说乎？有朋自远方来，不亦乐乎？",
    "这个分词器需要正确处理中文、英文和数字123。",
    "繁體中文與簡體中文在字形上有所不同。",
    "《红楼梦》是中国古典四大名著之一。",
]
JAPANESE = [
    "こんにちは、世界。今日はいい天気ですね。",
    "日本語のテキストにはひらがな、カタカナ、漢字が混在します。",
    "東京タワーは1958年に完成しました。",
    "私はコーヒーが好きです。でも、お茶も好きです。",
    "ｶﾀｶﾅの半角文字と全角文字ＡＢＣ１２３も含めます。",
    "吾輩は猫である。名前はまだ無い。",
]
ARABIC = [
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "اللغة العربية هي لغة جميلة وغنية.",
    "القاهرة هي عاصمة جمهورية مصر العربية.",
    "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ",
    "الرقم ١٢٣٤٥٦٧٨٩٠ مكتوب بالأرقام العربية الهندية.",
]
OTHER_SCRIPTS = [
    "Привет, мир! Как дела? Съешь же ещё этих мягких французских булок.",
    "Γειά σου Κόσμε! Ελληνικά γράμματα: αβγδεζηθ.",
    "नमस्ते दुनिया, हिन्दी में लिखा गया वाक्य।",
    "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "שלום עולם, זה טקסט בעברית.",
    "Xin chào thế giới, tiếng Việt có nhiều dấu.",
    "Ṫëṡẗ ẅïẗḧ ċöṁḃïṅïṅġ ṁäṙḳṡ: e\u0301 a\u0300 o\u0308 n\u0303 (decomposed) vs é à ö ñ.",
    "ﬁ ﬂ ﬀ ligatures, Ⅻ roman numeral, ㎏ ㎞ squared units, ① ② ③ circled digits.",
    "Zero\u200bwidth\u200cjoiners\u200dand\u2060word\ufeffjoiners, soft\u00adhyphen, nbsp\u00a0here.",
    "Ideographic\u3000space, em\u2003space, thin\u2009space, line\u2028sep, para\u2029sep, nel\u0085end.",
]
CODE = [
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
    "#include <stdio.h>\n\nint main(void) {\n    printf(\"Hello, %s!\\n\", \"world\");\n    return 0;\n}\n",
    "const add = (a, b) => a + b;\nconsole.log(`sum: ${add(2, 3)}`);\n",
    "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}\n",
    "SELECT name, COUNT(*) AS n FROM users WHERE age >= 18 GROUP BY name ORDER BY n DESC;",
    "<div class=\"container\">\n  <p id='x'>Hello &amp; welcome</p>\n</div>",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n",
    "public static void main(String[] args) { System.out.println(\"Hello\"); }",
    "$ ls -la | grep '\\.py$' | awk '{print $9}' > files.txt 2>&1 && echo done",
    "{\"name\": \"tinfer\", \"version\": \"0.1.0\", \"tags\": [\"llm\", \"c\"], \"ok\": true, \"n\": null}",
    "x = [i**2 for i in range(10) if i % 2 == 0]  # squares of evens\r\nprint(x)\r\n",
    "template <typename T>\nT max(const T& a, const T& b) { return a > b ? a : b; }",
    "if [[ -z \"$HOME\" ]]; then\n  echo \"no home\" >&2; exit 1\nfi",
    "    \t    indented with mixed tabs and spaces\t\t\n\n\n        deeper",
    "matrix = np.zeros((3, 4), dtype=np.float32); matrix[1:, ::2] += 1e-5",
    "@@ -1,5 +1,6 @@\n-old line\n+new line\n context",
    "// TODO(someone): fix this → it's broken ¯\\_(ツ)_/¯",
]
EMOJI = [
    "😀😃😄😁😆😅😂🤣", "👍👍🏻👍🏼👍🏽👍🏾👍🏿", "👨‍👩‍👧‍👦 family, 👩‍❤️‍💋‍👨 kiss, 🏳️‍🌈 flag, 🏴‍☠️ pirate",
    "🇰🇷🇺🇸🇯🇵🇨🇳🇩🇪🇫🇷", "🧑🏽‍💻 coder, 👩🏿‍🚀 astronaut, 🤷‍♂️ shrug, 🙋🏻‍♀️", "❤️ ♥ ❣ 💔 ☺️ ✌🏾 ☝️",
    "I love pizza 🍕 and sushi 🍣!!! 🎉🎉🎉", "1️⃣ 2️⃣ #️⃣ *️⃣ keycaps", "🫠🫡🫢🫣 🪿🪼 newer emoji",
]
SPECIAL_STRINGS = [
    "<bos>", "<eos>", "<pad>", "<unk>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>",
    "<s>", "</s>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
    "<|end_header_id|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>",
    "<unused0>", "<unused42>", "<mask>", "<|reserved_special_token_5|>", "<0x41>", "<tool_call>",
    "[multimodal]", "<|fim_prefix|>",
]


def rand_unicode_run(rng, lo, hi, n):
    return "".join(chr(rng.randint(lo, hi)) for _ in range(n))


def gen_whitespace(rng):
    parts = []
    for _ in range(rng.randint(1, 6)):
        parts.append(rng.choice(["word", "x", "한", "中", "1", "!", ""]))
        parts.append("".join(rng.choice([" ", "\t", "\n", "\r\n", "  ", "\u3000", "\xa0", "\v", "\f"])
                             for _ in range(rng.randint(1, 12))))
    return "".join(parts)


def gen_digits(rng):
    n = rng.randint(1, 80)
    digits = "".join(rng.choice("0123456789") for _ in range(n))
    return rng.choice([digits, "x" + digits, digits + "abc", " " + digits, "3.14159" + digits,
                       digits[:n // 2] + "," + digits[n // 2:], "٠١٢٣٤٥٦٧٨٩" + digits, "１２３" + digits])


def gen_punct(rng):
    chars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~…—–«»“”‘’¿¡·•※§¶"
    return "".join(rng.choice(chars) for _ in range(rng.randint(1, 40))) + rng.choice(["", " ok", "\n"])


def gen_special(rng):
    parts = []
    for _ in range(rng.randint(1, 5)):
        parts.append(rng.choice(SPECIAL_STRINGS))
        parts.append(rng.choice(["", " ", "hello", " world ", "\n", "user\n", "안녕", "<", ">", "  "]))
    return "".join(parts)


def gen_mixed(rng):
    pools = [ENGLISH, KOREAN, CHINESE, JAPANESE, ARABIC, OTHER_SCRIPTS, CODE, EMOJI]
    pieces = [rng.choice(rng.choice(pools)) for _ in range(rng.randint(2, 4))]
    return rng.choice([" ", "\n", "", "  ", "\t"]).join(pieces)


def gen_random_script(rng):
    ranges = [(0xAC00, 0xD7A3), (0x4E00, 0x9FFF), (0x3040, 0x30FF), (0x0600, 0x06FF), (0x0400, 0x04FF),
              (0x1F300, 0x1FAFF), (0x20, 0x7E), (0xA0, 0x24F), (0x2000, 0x2BFF), (0x1100, 0x11FF)]
    out = []
    for _ in range(rng.randint(1, 4)):
        lo, hi = rng.choice(ranges)
        out.append(rand_unicode_run(rng, lo, hi, rng.randint(1, 20)))
        out.append(rng.choice(["", " ", "\n"]))
    return "".join(out)


def gen_invalid(rng):
    """Raw bytes: valid text with invalid UTF-8 spliced in (returned as bytes)."""
    base = rng.choice(ENGLISH + KOREAN + EMOJI + CODE).encode("utf-8")
    bad = rng.choice([b"\xff", b"\xfe\xfe", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\x80\x80",
                      b"\xed\xa0\x80", b"\xc0\xaf", b"\xf5\x80\x80\x80", b"\xf4\x90\x80\x80",
                      bytes(rng.randint(0x80, 0xff) for _ in range(rng.randint(1, 6)))])
    cut = rng.randint(0, len(base))
    data = base[:cut] + bad + base[cut:]
    if rng.random() < 0.3:  # cut a multi-byte character in half
        data = data[:rng.randint(1, len(data))]
    return data


def sentence_lines(rng, pool, n):
    out = []
    for _ in range(n):
        k = rng.randint(1, 3)
        out.append(" ".join(rng.choice(pool) for _ in range(k)))
    return out


def build(n_lines, seed):
    rng = random.Random(seed)
    items = []
    # Every snippet once, verbatim.
    for pool in (ENGLISH, KOREAN, CHINESE, JAPANESE, ARABIC, OTHER_SCRIPTS, CODE, EMOJI, SPECIAL_STRINGS):
        items.extend(pool)
    items += ["", " ", "  ", "\n", "\t", "a", " a", "a ", "\n\n\n", " \n ", "\r\n", "'s", "'S", "don'T"]
    gens = [
        (lambda r: sentence_lines(r, ENGLISH, 1)[0], 14), (lambda r: sentence_lines(r, KOREAN, 1)[0], 12),
        (lambda r: sentence_lines(r, CHINESE, 1)[0], 6), (lambda r: sentence_lines(r, JAPANESE, 1)[0], 6),
        (lambda r: sentence_lines(r, ARABIC, 1)[0], 5), (lambda r: r.choice(CODE) * r.randint(1, 2), 8),
        (lambda r: "".join(r.choice(EMOJI) for _ in range(r.randint(1, 3))), 6), (gen_whitespace, 8),
        (gen_digits, 6), (gen_punct, 6), (gen_special, 8), (gen_mixed, 8), (gen_random_script, 6),
        (gen_invalid, 6), (lambda r: sentence_lines(r, OTHER_SCRIPTS, 1)[0], 5),
    ]
    weights = [w for _, w in gens]
    while len(items) < n_lines:
        gen = rng.choices([g for g, _ in gens], weights)[0]
        items.append(gen(rng))
    # A few long lines (several KB) for the merge loop's worst cases.
    for _ in range(8):
        items.append("".join(gen_mixed(rng) for _ in range(40)))
    items.append("a" * 5000)
    items.append(" " * 3000)
    items.append("\n" * 2000)
    items.append("1" * 4000)
    return items


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "tokenizers", "corpus.jsonl.zst"))
    ap.add_argument("--lines", type=int, default=3200)
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args()
    lines = []
    for item in build(args.lines, args.seed):
        if isinstance(item, bytes):
            try:
                item.decode("utf-8")
                lines.append(json.dumps({"text": item.decode("utf-8")}, ensure_ascii=False))
            except UnicodeDecodeError:
                lines.append(json.dumps({"hex": item.hex()}))
        else:
            lines.append(json.dumps({"text": item}, ensure_ascii=False))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    with open(args.out, "wb") as f:
        f.write(zstandard.ZstdCompressor(level=19).compress(data))
    print(f"{args.out}: {len(lines)} lines, {len(data)} bytes uncompressed")


if __name__ == "__main__":
    main()
