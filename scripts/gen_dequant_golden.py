#!/usr/bin/env python3
"""Writes tests/data/dequant/<type>.bin: random weight blocks and their float32 values as computed
by the PyPI `gguf` package's numpy dequantizers (gguf.quants.dequantize), an implementation
independent of ours. tests/unit/test_dequant.c requires libtinfer to reproduce them bit for bit.

Needs: numpy, gguf (pip install numpy gguf). Run from anywhere:
    python scripts/gen_dequant_golden.py [--out DIR]

File format (all integers little-endian):
    offset  size        field
    0       4           magic b"TFDQ"
    4       4           u32 format version (1)
    8       4           u32 dtype: the ggml/GGUF type id (same numbers as tinfer_dtype)
    12      4           u32 n_elems: number of decoded values
    16      4           u32 n_raw_bytes: size of the encoded row
    20      n_raw_bytes the encoded row (whole blocks, as they sit in a GGUF file)
    ...     4*n_elems   float32 expected values

Block contents are seeded random bytes, except the f16 scale fields (d, and m / dmin where the type
has one): those are moderate finite values (+-2^-12 .. 2^4) so outputs are finite, except that for
each field in turn ten blocks carry the special values of SPECIAL_F16 (zero, -0, subnormals, max,
negative, inf, NaN) there. F32/F16/BF16 rows are special bit patterns plus random bit patterns.
"""
import argparse
import os
import struct

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

SEED = 20240611
MAGIC = b"TFDQ"
VERSION = 1

SPECIAL_F16 = [
    0x0000,  # +0
    0x8000,  # -0
    0x0001,  # smallest subnormal, 2^-24
    0x03FF,  # largest subnormal
    0x0400,  # smallest normal, 2^-14
    0x7BFF,  # largest finite, 65504
    0xFBFF,  # most negative finite
    0xBC00,  # -1
    0x7C00,  # +inf (outputs become +-inf or NaN)
    0x7E00,  # quiet NaN
]

# Byte offsets of the f16 scale fields inside one block (ggml-common.h block_* structs).
SCALE_FIELDS = {
    T.Q4_0: [0],        # d, qs[16]
    T.Q4_1: [0, 2],     # d, m, qs[16]
    T.Q5_0: [0],        # d, qh[4], qs[16]
    T.Q5_1: [0, 2],     # d, m, qh[4], qs[16]
    T.Q8_0: [0],        # d, qs[32]
    T.Q2_K: [80, 82],   # scales[16], qs[64], d, dmin
    T.Q3_K: [108],      # hmask[32], qs[64], scales[12], d
    T.Q4_K: [0, 2],     # d, dmin, scales[12], qs[128]
    T.Q5_K: [0, 2],     # d, dmin, scales[12], qh[32], qs[128]
    T.Q6_K: [208],      # ql[128], qh[64], scales[16], d
}
# Enough blocks for the special values in every scale field plus a few all-moderate ones; a legacy
# block is 128 bytes of expected values, a K-quant super-block 1 KiB (all files: ~160 KB).
N_BLOCKS = {qtype: (32 if GGML_QUANT_SIZES[qtype][0] == 32 else len(SPECIAL_F16) * len(fields) + 4)
            for qtype, fields in SCALE_FIELDS.items()}

SPECIAL_F32 = [0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF,
               0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001, 0x7FBFFFFF, 0x3F800000]
SPECIAL_HALF = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x8400, 0x3BFF, 0x3C00,
                0x3C01, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7C01, 0x7DFF, 0x7E00, 0x7FFF, 0xFE00,
                0xFFFF, 0x0200, 0x3555]
SPECIAL_BF16 = [0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x807F, 0x0080, 0x8080, 0x3F80, 0xBF80,
                0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x7F81, 0x7FBF, 0x7FC0, 0x7FFF, 0xFFC0, 0xFFFF]


def moderate_f16(rng: np.random.Generator, n: int) -> np.ndarray:
    magnitude = np.exp2(rng.uniform(-12.0, 4.0, size=n))
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return (sign * magnitude).astype(np.float16).view(np.uint16)


def quantized_row(rng: np.random.Generator, qtype: T) -> np.ndarray:
    block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
    n_blocks = N_BLOCKS[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    fields = SCALE_FIELDS[qtype]
    for b in range(n_blocks):
        values = moderate_f16(rng, len(fields))
        # Blocks 10k .. 10k + 9 walk every special value through field k; the others stay moderate.
        special_field, special_index = divmod(b, len(SPECIAL_F16))
        if special_field < len(fields):
            values[special_field] = SPECIAL_F16[special_index]
        for offset, value in zip(fields, values):
            blocks[b, offset:offset + 2] = np.frombuffer(struct.pack("<H", int(value)), dtype=np.uint8)
    return blocks.reshape(-1)


def float_row(rng: np.random.Generator, qtype: T) -> np.ndarray:
    if qtype == T.F32:
        bits = np.concatenate([np.array(SPECIAL_F32, dtype=np.uint32),
                               rng.integers(0, 2**32, size=256, dtype=np.uint32),
                               rng.standard_normal(256).astype(np.float32).view(np.uint32)])
        return bits.astype("<u4").view(np.uint8)
    special = SPECIAL_HALF if qtype == T.F16 else SPECIAL_BF16
    bits = np.concatenate([np.array(special, dtype=np.uint16),
                           rng.integers(0, 2**16, size=1024, dtype=np.uint16)])
    return bits.astype("<u2").view(np.uint8)


def write_golden(path: str, qtype: T, raw: np.ndarray) -> int:
    expected = np.asarray(dequantize(raw.copy(), qtype), dtype=np.float32).reshape(-1)
    block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
    assert expected.size == raw.size // block_bytes * block_elems, qtype.name
    with open(path, "wb") as out:
        out.write(MAGIC)
        out.write(struct.pack("<IIII", VERSION, int(qtype), expected.size, raw.size))
        out.write(raw.tobytes())
        out.write(expected.astype("<f4").tobytes())
    return os.path.getsize(path)


def main() -> None:
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(repo, "tests", "data", "dequant"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    total = 0
    for qtype in [T.F32, T.F16, T.BF16]:
        total += write_golden(os.path.join(args.out, qtype.name.lower() + ".bin"), qtype,
                              float_row(rng, qtype))
    with np.errstate(invalid="ignore", over="ignore"):  # inf/NaN scales are intended
        for qtype in SCALE_FIELDS:
            total += write_golden(os.path.join(args.out, qtype.name.lower() + ".bin"), qtype,
                                  quantized_row(rng, qtype))
    print(f"wrote {len(SCALE_FIELDS) + 3} files, {total} bytes, to {args.out}")


if __name__ == "__main__":
    main()
