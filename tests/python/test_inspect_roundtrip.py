"""Round trip through independent writers.

Files are written by the PyPI packages `gguf` (GGUFWriter, llama.cpp's own Python writer) and
`safetensors` (save_file), and by a safetensors writer built here from the format's spec (for
BF16, which numpy cannot hold). tinfer-inspect --json --full reads them back, and every metadata
key (type and value) and every tensor (name, dtype, shape, element count, byte count, absolute
offset) is compared with what was written, with what gguf.GGUFReader / safetensors.safe_open read
from the same file, and with the bytes found at the reported offset.

Bad input must be refused with exit status 1 and exactly one line on stderr; usage errors exit 2.
"""

import json
import math
import struct

import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader, GGUFWriter
from gguf import GGUFValueType as VT
from gguf.quants import quant_shape_from_byte_shape, quantize
from safetensors import safe_open
from safetensors.numpy import save_file

TYPE_NAMES = {
    VT.UINT8: "u8", VT.INT8: "i8", VT.UINT16: "u16", VT.INT16: "i16", VT.UINT32: "u32",
    VT.INT32: "i32", VT.FLOAT32: "f32", VT.BOOL: "bool", VT.STRING: "string", VT.ARRAY: "array",
    VT.UINT64: "u64", VT.INT64: "i64", VT.FLOAT64: "f64",
}
JSON_ARRAY_PREVIEW = 16  # elements shown without --full
INT64_MAX = 2**63 - 1
ARCH = "llama"

# (key, type, value): one of every scalar type, at the edges of its range.
SCALARS = [
    ("test.u8", VT.UINT8, 255),
    ("test.i8", VT.INT8, -128),
    ("test.u16", VT.UINT16, 65535),
    ("test.i16", VT.INT16, -32768),
    ("test.u32", VT.UINT32, 4294967295),
    ("test.i32", VT.INT32, -2147483648),
    ("test.u64", VT.UINT64, 2**53 + 1),  # not a double: must not pass through one
    ("test.i64", VT.INT64, -(2**63)),
    ("test.i64_max", VT.INT64, INT64_MAX),
    ("test.f32", VT.FLOAT32, 0.1),
    ("test.f32_big", VT.FLOAT32, -3.0e38),
    ("test.f32_subnormal", VT.FLOAT32, 1e-40),
    ("test.f64", VT.FLOAT64, 0.1),
    ("test.f64_subnormal", VT.FLOAT64, 5e-324),
    ("test.bool_true", VT.BOOL, True),
    ("test.bool_false", VT.BOOL, False),
    ("test.string", VT.STRING, 'héllo, 世界 "quoted"\n\ttab \\ backslash'),
    ("test.string_empty", VT.STRING, ""),
]

# (key, element type, values): flat arrays of every element type.
ARRAYS = [
    ("test.arr_u8", VT.UINT8, [0, 1, 255]),
    ("test.arr_i8", VT.INT8, [-128, 0, 127]),
    ("test.arr_u16", VT.UINT16, [0, 65535]),
    ("test.arr_i16", VT.INT16, [-32768, 32767]),
    ("test.arr_u32", VT.UINT32, [0, 4294967295]),
    ("test.arr_i32", VT.INT32, list(range(-10, 10))),  # longer than the preview
    ("test.arr_u64", VT.UINT64, [0, 2**53 + 1, INT64_MAX]),
    ("test.arr_i64", VT.INT64, [-(2**63), INT64_MAX]),
    ("test.arr_f32", VT.FLOAT32, [0.1, -1.5, 3.0e38, 1e-40]),
    ("test.arr_f64", VT.FLOAT64, [0.1, -2.5e300, 5e-324]),
    ("test.arr_bool", VT.BOOL, [True, False, True]),
    ("test.arr_str", VT.STRING, [f"s{i}" for i in range(20)] + ["é世", ""]),
]

# u64 values above INT64_MAX cannot be JSON integers in jansson (json_int_t is long long).
U64_ABOVE_INT64 = [
    ("test.u64_max", VT.UINT64, 2**64 - 1, None),
    ("test.arr_u64_max", VT.ARRAY, [2**63, 2**64 - 1], VT.UINT64),
]

NESTED = ("test.arr_nested", [[1, 2, 3], [4], [5, 6]])  # arrays of i32 arrays

HPARAM_KEYS = [
    ("general.name", VT.STRING, "roundtrip-test"),
    (f"{ARCH}.vocab_size", VT.UINT32, 20),
    (f"{ARCH}.context_length", VT.UINT32, 2048),
    (f"{ARCH}.embedding_length", VT.UINT32, 64),
    (f"{ARCH}.block_count", VT.UINT32, 2),
    (f"{ARCH}.feed_forward_length", VT.UINT32, 128),
    (f"{ARCH}.attention.head_count", VT.UINT32, 4),
    (f"{ARCH}.attention.head_count_kv", VT.UINT32, 2),
    (f"{ARCH}.attention.layer_norm_rms_epsilon", VT.FLOAT32, 1e-6),
    (f"{ARCH}.rope.freq_base", VT.FLOAT32, 10000.0),
    ("tokenizer.ggml.model", VT.STRING, "llama"),
    ("tokenizer.ggml.bos_token_id", VT.UINT32, 1),
    ("tokenizer.ggml.eos_token_id", VT.UINT32, 2),
]
TOKENS = [f"<t{i}>" for i in range(20)]


def as_written(vtype, value):
    """The JSON value tinfer-inspect must print: f32 values as the double of the float."""
    if vtype == VT.FLOAT32:
        return float(np.float32(value))
    return value


def gguf_tensors(rng):
    """(name, array to write, raw dtype or None, logical shape outermost first)."""
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    raw_blocks = lambda rows, n_bytes: rng.integers(0, 256, (rows, n_bytes), dtype=np.uint8)  # noqa: E731
    tensors = [
        ("token_embd.weight", f32(20, 64), None),
        ("output_norm.weight", f32(64), None),
        ("t.f32_4d", f32(2, 3, 4, 5), None),
        ("t.f16", f32(3, 8).astype(np.float16), None),  # 48 bytes: the next one needs padding
        ("t.f16_3d", f32(2, 3, 4).astype(np.float16), None),
        ("t.bf16", quantize(f32(4, 8), QT.BF16), QT.BF16),
        ("t.q8_0", quantize(f32(2, 64), QT.Q8_0), QT.Q8_0),
        ("t.q4_0", quantize(f32(3, 32), QT.Q4_0), QT.Q4_0),
        # gguf-py cannot quantize k-quants; their blocks are raw bytes here (inspect reads no data)
        ("t.q4_k", raw_blocks(2, 2 * 144), QT.Q4_K),
        ("t.q5_k", raw_blocks(1, 176), QT.Q5_K),
        ("t.q6_k", raw_blocks(3, 210), QT.Q6_K),
    ]
    out = []
    for name, array, raw_dtype in tensors:
        shape = list(array.shape)
        if raw_dtype is not None:
            shape = list(quant_shape_from_byte_shape(array.shape, raw_dtype))
        out.append((name, array, raw_dtype, shape))
    return out


def write_gguf(path, rng, alignment=None, edge_cases=False):
    writer = GGUFWriter(str(path), ARCH)
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    for key, vtype, value in HPARAM_KEYS + SCALARS:
        writer.add_key_value(key, value, vtype)  # add_string() would drop the empty string
    writer.add_key_value("tokenizer.ggml.tokens", TOKENS, VT.ARRAY, sub_type=VT.STRING)
    for key, sub_type, values in ARRAYS:
        writer.add_key_value(key, values, VT.ARRAY, sub_type=sub_type)
    if edge_cases:  # kept out of the other files so that each gap fails one test only
        for key, vtype, value, sub_type in U64_ABOVE_INT64:
            writer.add_key_value(key, value, vtype, sub_type=sub_type)
        writer.add_key_value(NESTED[0], NESTED[1], VT.ARRAY)
    tensors = gguf_tensors(rng)
    for name, array, raw_dtype, _ in tensors:
        writer.add_tensor(name, array, raw_dtype=raw_dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return tensors


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("gguf") / "roundtrip.gguf"
    tensors = write_gguf(path, np.random.default_rng(20240601))
    return path, tensors


@pytest.fixture(scope="module")
def gguf_file_edge_cases(tmp_path_factory):
    path = tmp_path_factory.mktemp("gguf_edge") / "edge_cases.gguf"
    write_gguf(path, np.random.default_rng(3), edge_cases=True)
    return path


@pytest.fixture(scope="module")
def gguf_file_aligned_64(tmp_path_factory):
    path = tmp_path_factory.mktemp("gguf64") / "aligned64.gguf"
    tensors = write_gguf(path, np.random.default_rng(7), alignment=64)
    return path, tensors


def metadata_by_key(info):
    entries = {}
    for entry in info["metadata"]:
        assert entry["key"] not in entries, f"key {entry['key']} listed twice"
        entries[entry["key"]] = entry
    return entries


def same_number(expected, got, lossy_u64=False):
    """Exact equality, with the type kind kept (an integer stays an integer, a bool a bool)."""
    if isinstance(expected, bool):
        return isinstance(got, bool) and got == expected
    if isinstance(expected, int):
        if lossy_u64 and isinstance(got, float):
            return got == float(expected)
        return isinstance(got, int) and not isinstance(got, bool) and got == expected
    if isinstance(expected, float):
        return isinstance(got, (int, float)) and not isinstance(got, bool) and got == expected
    return got == expected


def check_scalar(entry, vtype, value, lossy_u64=False):
    assert entry["type"] == TYPE_NAMES[vtype], entry
    want = as_written(vtype, value)
    assert same_number(want, entry["value"], lossy_u64), f"{entry['key']}: {entry['value']!r} != {want!r}"


def check_array(entry, elem_type, values, full=True, lossy_u64=False):
    key = entry["key"]
    assert entry["type"] == "array", entry
    assert entry["elem_type"] == TYPE_NAMES[elem_type], entry
    assert entry["n_elems"] == len(values), entry
    shown = values if full else values[:JSON_ARRAY_PREVIEW]
    assert entry["truncated"] is (len(shown) < len(values)), entry
    assert len(entry["value"]) == len(shown), f"{key}: {len(entry['value'])} elements shown"
    for j, (want, got) in enumerate(zip(shown, entry["value"])):
        want = as_written(elem_type, want)
        assert same_number(want, got, lossy_u64), f"{key}[{j}]: {got!r} != {want!r}"


def reader_value(field, j=None):
    """A field's scalar value, or element j of an array field, straight from GGUFReader's parts."""
    part = field.parts[field.data[0] if j is None else field.data[j]]
    kind = field.types[0] if j is None else field.types[-1]
    if kind == VT.STRING:
        return bytes(part.tobytes())
    value = part.tolist()[0]
    return float(value) if kind in (VT.FLOAT32, VT.FLOAT64) else value


# ---------------------------------------------------------------- GGUF


def test_gguf_summary(inspect, gguf_file):
    path, tensors = gguf_file
    info = inspect.json(path)
    assert info["path"] == str(path)
    assert info["format"] == "gguf"
    assert info["gguf_version"] == 3
    assert info["architecture"] == ARCH
    assert info["name"] == "roundtrip-test"
    assert info["tokenizer"] == {"model": "llama", "n_tokens": len(TOKENS), "bos_id": 1, "eos_id": 2}
    assert info["n_tensors"] == len(tensors)
    assert info["n_params"] == sum(math.prod(shape) for _, _, _, shape in tensors)
    assert info["total_bytes"] == sum(array.nbytes for _, array, _, _ in tensors)


def test_gguf_hparams(inspect, gguf_file):
    hparams = inspect.json(gguf_file[0])["hparams"]
    int_fields = ["n_vocab", "n_ctx_train", "n_embd", "n_layer", "n_head", "n_head_kv",
                  "head_dim", "head_dim_v", "n_ff", "sliding_window"]
    float_fields = ["rms_norm_eps", "rope_freq_base", "rope_freq_base_local"]
    assert sorted(hparams) == sorted(int_fields + float_fields)
    for field in int_fields:
        assert isinstance(hparams[field], int), field
    for field in float_fields:
        assert isinstance(hparams[field], (int, float)), field
    assert {k: hparams[k] for k in int_fields} == {
        "n_vocab": 20, "n_ctx_train": 2048, "n_embd": 64, "n_layer": 2, "n_head": 4,
        "n_head_kv": 2, "head_dim": 16, "head_dim_v": 16, "n_ff": 128, "sliding_window": 0,
    }
    assert hparams["rms_norm_eps"] == pytest.approx(1e-6, rel=1e-6)
    assert hparams["rope_freq_base"] == pytest.approx(10000.0)


def test_gguf_every_scalar_type(inspect, gguf_file):
    entries = metadata_by_key(inspect.json(gguf_file[0]))
    for key, vtype, value in HPARAM_KEYS + SCALARS:
        check_scalar(entries[key], vtype, value)
    check_scalar(entries["general.architecture"], VT.STRING, ARCH)


def test_gguf_every_array_type(inspect, gguf_file):
    entries = metadata_by_key(inspect.json(gguf_file[0]))
    for key, elem_type, values in ARRAYS:
        check_array(entries[key], elem_type, values)
    check_array(entries["tokenizer.ggml.tokens"], VT.STRING, TOKENS)


def test_gguf_u64_above_int64_max(inspect, gguf_file_edge_cases):
    """JSON via jansson holds integers up to INT64_MAX; above it a double of the value is accepted."""
    entries = metadata_by_key(inspect.json(gguf_file_edge_cases))
    key, vtype, value, _ = U64_ABOVE_INT64[0]
    check_scalar(entries[key], vtype, value, lossy_u64=True)
    key, _, values, elem_type = U64_ABOVE_INT64[1]
    check_array(entries[key], elem_type, values, lossy_u64=True)


def test_gguf_nested_array(inspect, gguf_file_edge_cases):
    entry = metadata_by_key(inspect.json(gguf_file_edge_cases))[NESTED[0]]
    assert entry["type"] == "array"
    assert entry["elem_type"] == "array"
    assert entry["n_elems"] == len(NESTED[1])
    assert entry["value"] == NESTED[1]


def test_gguf_arrays_truncated_without_full(inspect, gguf_file):
    entries = metadata_by_key(inspect.json(gguf_file[0], full=False))
    for key, elem_type, values in ARRAYS:
        check_array(entries[key], elem_type, values, full=False)
    check_array(entries["tokenizer.ggml.tokens"], VT.STRING, TOKENS, full=False)
    assert entries["test.arr_i32"]["truncated"] is True  # the preview really cut something


def test_gguf_metadata_matches_reader(inspect, gguf_file):
    """Same keys in the same order as the file, same types, same values as GGUFReader reads."""
    path = gguf_file[0]
    entries = inspect.json(path)["metadata"]
    reader = GGUFReader(path)
    fields = [f for name, f in reader.fields.items() if not name.startswith("GGUF.")]
    assert [e["key"] for e in entries] == [f.name for f in fields]
    for entry, field in zip(entries, fields):
        assert entry["type"] == TYPE_NAMES[field.types[0]], entry["key"]
        if field.types[0] == VT.ARRAY:
            assert entry["elem_type"] == TYPE_NAMES[field.types[1]], entry["key"]
            assert entry["n_elems"] == int(field.parts[4][0]), entry["key"]  # key len, key, type, elem type, count
            if field.types[1] in (VT.ARRAY,):
                continue  # GGUFReader flattens nested arrays; test_gguf_nested_array covers them
            got = entry["value"]
            want = [reader_value(field, j) for j in range(len(field.data))]
        else:
            got, want = entry["value"], reader_value(field)
            got, want = [got], [want]
        for g, w in zip(got, want):
            if isinstance(w, bytes):
                w = w.decode("utf-8")
            assert same_number(w, g, lossy_u64=True), f"{entry['key']}: {g!r} != {w!r}"


def check_gguf_tensors(info, path, tensors):
    """Each tensor against GGUFReader, against what was written, and against the file's bytes."""
    reader = GGUFReader(path)
    file_bytes = path.read_bytes()
    got = info["tensors"]
    assert [t["name"] for t in got] == [t.name for t in reader.tensors]
    assert [t["name"] for t in got] == [name for name, _, _, _ in tensors]
    for entry, rt, (name, array, raw_dtype, shape) in zip(got, reader.tensors, tensors):
        assert entry["dtype"] == QT(rt.tensor_type).name, name
        assert entry["dtype"] == (raw_dtype.name if raw_dtype else QT(rt.tensor_type).name), name
        assert entry["shape"] == list(reversed(rt.shape.tolist())), name
        assert entry["shape"] == shape, name
        assert entry["n_elements"] == int(rt.n_elements) == math.prod(shape), name
        assert entry["n_bytes"] == int(rt.n_bytes) == array.nbytes, name
        assert entry["offset"] == int(rt.data_offset), name
        offset = entry["offset"]
        assert file_bytes[offset:offset + entry["n_bytes"]] == array.tobytes(), name


def test_gguf_tensors(inspect, gguf_file):
    path, tensors = gguf_file
    info = inspect.json(path)
    check_gguf_tensors(info, path, tensors)
    assert all(t["offset"] % 32 == 0 for t in info["tensors"])


def test_gguf_custom_alignment(inspect, gguf_file_aligned_64):
    path, tensors = gguf_file_aligned_64
    info = inspect.json(path)
    check_scalar(metadata_by_key(info)["general.alignment"], VT.UINT32, 64)
    check_gguf_tensors(info, path, tensors)
    assert all(t["offset"] % 64 == 0 for t in info["tensors"])
    assert any(t["offset"] % 128 != 0 for t in info["tensors"])  # 64, not something coarser


def test_gguf_text_output(inspect, gguf_file):
    result = inspect.run(gguf_file[0])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert ARCH in result.stdout and "t.q6_k" in result.stdout and "test.arr_str" in result.stdout


# ---------------------------------------------------------------- safetensors


def write_safetensors_by_hand(path, tensors, metadata=None):
    """The format from its spec: u64 little-endian header length, JSON header padded with spaces
    to 8 bytes, then the data. tensors: (name, dtype, shape, raw bytes)."""
    header = {"__metadata__": metadata} if metadata else {}
    blobs, offset = [], 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def bf16_bytes(array):
    return (np.asarray(array, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()


def safetensors_layout(path):
    """name → (dtype, shape, absolute offset, n_bytes), from the header read with Python's json."""
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    header.pop("__metadata__", None)
    return {
        name: (h["dtype"], h["shape"], 8 + header_len + h["data_offsets"][0],
               h["data_offsets"][1] - h["data_offsets"][0])
        for name, h in header.items()
    }


def check_safetensors_tensors(entries, files):
    """entries: inspect's tensors; files: {path: {name: raw bytes}} of what was written."""
    by_name = {t["name"]: t for t in entries}
    assert len(by_name) == len(entries), "a tensor name is listed twice"
    assert sorted(by_name) == sorted(n for written in files.values() for n in written)
    for path, written in files.items():
        layout = safetensors_layout(path)
        file_bytes = path.read_bytes()
        with safe_open(str(path), framework="numpy") as f:
            assert sorted(f.keys()) == sorted(written)
            for name, raw in written.items():
                entry = by_name[name]
                dtype, shape, offset, n_bytes = layout[name]
                assert entry["dtype"] == dtype == f.get_slice(name).get_dtype(), name
                assert shape == list(f.get_slice(name).get_shape()), name
                # our table has 1..4 dims: a rank-0 scalar is reported as shape [1] (documented
                # in tinfer.h), every other shape as the file gives it
                assert entry["shape"] == (shape if shape else [1]), name
                assert entry["n_elements"] == math.prod(shape), name
                assert entry["n_bytes"] == n_bytes == len(raw), name
                assert entry["offset"] == offset, name
                assert file_bytes[offset:offset + n_bytes] == raw, name


@pytest.fixture(scope="module")
def st_arrays():
    rng = np.random.default_rng(99)
    return {
        "model.embed_tokens.weight": rng.standard_normal((10, 16)).astype(np.float32),
        "model.norm.weight": rng.standard_normal(16).astype(np.float16),
        "model.layers.0.mlp.up_proj.weight": rng.standard_normal((2, 3, 4)).astype(np.float16),
        "lm_head.weight": rng.standard_normal((10, 16)).astype(np.float32),
    }


ST_METADATA = {"format": "pt", "note": "héllo 世界"}


def test_safetensors_file_from_save_file(inspect, tmp_path, st_arrays):
    path = tmp_path / "model.safetensors"
    save_file(st_arrays, str(path), metadata=ST_METADATA)
    info = inspect.json(path)
    assert info["format"] == "safetensors"
    assert info["gguf_version"] is None
    entries = metadata_by_key(info)
    for name, value in ST_METADATA.items():
        check_scalar(entries[f"safetensors.{name}"], VT.STRING, value)
    assert sorted(k for k in entries if k.startswith("safetensors.")) == sorted(
        f"safetensors.{n}" for n in ST_METADATA)
    check_safetensors_tensors(info["tensors"], {path: {n: a.tobytes() for n, a in st_arrays.items()}})
    assert info["n_tensors"] == len(st_arrays)
    assert info["n_params"] == sum(a.size for a in st_arrays.values())
    assert info["total_bytes"] == sum(a.nbytes for a in st_arrays.values())


def test_safetensors_bf16_written_by_hand(inspect, tmp_path):
    rng = np.random.default_rng(5)
    tensors = [
        ("w.bf16", "BF16", [4, 8], bf16_bytes(rng.standard_normal((4, 8)))),
        ("w.f32", "F32", [3], rng.standard_normal(3).astype(np.float32).tobytes()),
        ("w.f16", "F16", [2, 2], rng.standard_normal((2, 2)).astype(np.float16).tobytes()),
        ("w.bf16_3d", "BF16", [2, 1, 3], bf16_bytes(rng.standard_normal(6))),
    ]
    path = tmp_path / "bf16.safetensors"
    write_safetensors_by_hand(path, tensors, metadata={"format": "pt"})
    info = inspect.json(path)
    check_safetensors_tensors(info["tensors"], {path: {n: raw for n, _, _, raw in tensors}})
    check_scalar(metadata_by_key(info)["safetensors.format"], VT.STRING, "pt")


def test_safetensors_scalar_and_empty_tensors(inspect, tmp_path):
    """The spec allows shape [] (one element) and zero-element tensors; shapes are reported as
    the file gives them, except a scalar's, which is [1]."""
    arrays = {
        "scalar": np.array(1.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "w": np.ones(3, dtype=np.float16),
    }
    path = tmp_path / "edge.safetensors"
    save_file(arrays, str(path))
    info = inspect.json(path)
    check_safetensors_tensors(info["tensors"], {path: {n: a.tobytes() for n, a in arrays.items()}})
    assert info["n_params"] == 1 + 0 + 3


LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "vocab_size": 10,
    "torch_dtype": "float32",
}

# config.json field → the GGUF key it must appear under (llama.cpp's converter's names)
CONFIG_TO_GGUF = {
    "hidden_size": "llama.embedding_length",
    "intermediate_size": "llama.feed_forward_length",
    "num_hidden_layers": "llama.block_count",
    "num_attention_heads": "llama.attention.head_count",
    "num_key_value_heads": "llama.attention.head_count_kv",
    "max_position_embeddings": "llama.context_length",
    "rms_norm_eps": "llama.attention.layer_norm_rms_epsilon",
    "rope_theta": "llama.rope.freq_base",
}


def check_llama_config(info):
    assert info["architecture"] == "llama"
    entries = metadata_by_key(info)
    assert entries["general.architecture"]["value"] == "llama"
    for field, key in CONFIG_TO_GGUF.items():
        assert key in entries, f"config.json {field} is not under {key}"
        assert entries[key]["value"] == pytest.approx(LLAMA_CONFIG[field], rel=1e-6), key
    hparams = info["hparams"]
    assert (hparams["n_embd"], hparams["n_ff"], hparams["n_layer"]) == (64, 128, 2)
    assert (hparams["n_head"], hparams["n_head_kv"], hparams["head_dim"]) == (4, 2, 16)
    assert hparams["n_ctx_train"] == 256
    assert hparams["rms_norm_eps"] == pytest.approx(1e-5, rel=1e-6)
    assert hparams["rope_freq_base"] == pytest.approx(10000.0)


def test_safetensors_directory_single_file(inspect, tmp_path, st_arrays):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_CONFIG))
    path = tmp_path / "model.safetensors"
    save_file(st_arrays, str(path), metadata={"format": "pt"})
    info = inspect.json(tmp_path)
    assert info["format"] == "safetensors"
    check_llama_config(info)
    check_safetensors_tensors(info["tensors"], {path: {n: a.tobytes() for n, a in st_arrays.items()}})


def test_safetensors_directory_sharded(inspect, tmp_path, st_arrays):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_CONFIG))
    names = sorted(st_arrays)
    shards = {
        tmp_path / "model-00001-of-00002.safetensors": names[:2],
        tmp_path / "model-00002-of-00002.safetensors": names[2:],
    }
    weight_map = {}
    for path, shard_names in shards.items():
        save_file({n: st_arrays[n] for n in shard_names}, str(path), metadata={"format": "pt"})
        weight_map.update({n: path.name for n in shard_names})
    index = {"metadata": {"total_size": sum(a.nbytes for a in st_arrays.values())},
             "weight_map": weight_map}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    info = inspect.json(tmp_path)
    check_llama_config(info)
    check_safetensors_tensors(info["tensors"], {
        path: {n: st_arrays[n].tobytes() for n in shard_names} for path, shard_names in shards.items()
    })
    assert info["n_tensors"] == len(st_arrays)


# ---------------------------------------------------------------- bad input


def assert_refused(inspect, path, *extra):
    result = inspect.run(*extra, path)
    lines = result.stderr.splitlines()
    assert result.returncode == 1, f"exit {result.returncode} for {path}: {result.stderr[:500]}"
    assert len(lines) == 1, f"want one stderr line, got {len(lines)}: {result.stderr[:1000]}"
    assert lines[0].startswith("tinfer-inspect: "), lines[0]
    assert result.stdout == "", "nothing may be printed for a refused file"
    return lines[0]


def gguf_header(n_tensors, n_kv, version=3):
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def gguf_cut_points(path):
    """Byte counts at which the valid file is cut: inside each part of the file."""
    reader = GGUFReader(path)
    data_end = max(int(t.data_offset) + int(t.n_bytes) for t in reader.tensors)
    return sorted({0, 3, 4, 7, 8, 15, 16, 23, 24, 30, 100, reader.data_offset // 2,
                   reader.data_offset - 1, reader.data_offset + 1, data_end - 1})


def test_truncated_gguf_is_refused(inspect, gguf_file, tmp_path):
    data = gguf_file[0].read_bytes()
    for n in gguf_cut_points(gguf_file[0]):
        path = tmp_path / f"cut_{n}.gguf"
        path.write_bytes(data[:n])
        assert_refused(inspect, path)


def test_truncated_safetensors_is_refused(inspect, tmp_path, st_arrays):
    whole = tmp_path / "whole.safetensors"
    save_file(st_arrays, str(whole))
    data = whole.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    for n in sorted({0, 4, 7, 8, 9, 8 + header_len // 2, 8 + header_len - 1, 8 + header_len,
                     8 + header_len + 1, len(data) - 1}):
        path = tmp_path / f"cut_{n}.safetensors"
        path.write_bytes(data[:n])
        assert_refused(inspect, path)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("suffix", [".gguf", ".safetensors", ".bin"])
def test_random_bytes_are_refused(inspect, tmp_path, seed, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert_refused(inspect, path)


def gguf_kv_prefix(key=b"k"):
    return struct.pack("<Q", len(key)) + key


def gguf_tensor_info(dims, dtype, offset, name=b"t"):
    return (struct.pack("<Q", len(name)) + name + struct.pack(f"<I{len(dims)}Q", len(dims), *dims)
            + struct.pack("<IQ", dtype, offset))


PAD = b"\0" * 64  # enough bytes that the counts pass their first check and the intended one trips

# case → (a word the one-line message must contain: the field at fault, file bytes)
HOSTILE_GGUF = {
    "random_after_magic": ("version", b"GGUF" + np.random.default_rng(4).bytes(512)),
    "version_1": ("version", gguf_header(0, 0, version=1)),
    "version_99": ("version", gguf_header(0, 0, version=99)),
    "tensor_count_2^62": ("tensor_count", gguf_header(2**62, 0)),
    "kv_count_2^62": ("kv_count", gguf_header(0, 2**62)),
    "key_length_2^63": ("key length", gguf_header(0, 1) + struct.pack("<Q", 2**63) + PAD),
    "string_length_2^63": ("'k'", gguf_header(0, 1) + gguf_kv_prefix()
                           + struct.pack("<IQ", VT.STRING, 2**63) + b"x"),
    "array_length_2^62": ("'k'", gguf_header(0, 1) + gguf_kv_prefix()
                          + struct.pack("<IIQ", VT.ARRAY, VT.UINT64, 2**62) + PAD),
    "unknown_value_type": ("value type", gguf_header(0, 1) + gguf_kv_prefix()
                           + struct.pack("<I", 77) + PAD),
    "dims_2^40": ("'t'", gguf_header(1, 0) + gguf_tensor_info([2**40] * 4, QT.F32, 0) + PAD),
    "n_dims_5": ("n_dims 5 is outside 1..4",
                 gguf_header(1, 0) + gguf_tensor_info([1, 1, 1, 1, 2], QT.F32, 0) + PAD),
    "unknown_dtype": ("'t'", gguf_header(1, 0) + gguf_tensor_info([4], 999, 0) + PAD),
    "data_past_end": ("'t'", gguf_header(1, 0) + gguf_tensor_info([2**30], QT.F32, 0) + PAD),
    "offset_with_gap": ("'t'", gguf_header(1, 0) + gguf_tensor_info([4], QT.F32, 2**40) + PAD),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_GGUF))
def test_hostile_gguf_is_refused(inspect, tmp_path, case):
    word, data = HOSTILE_GGUF[case]
    path = tmp_path / f"{case}.gguf"
    path.write_bytes(data)
    assert word.lower() in assert_refused(inspect, path).lower()


def st_file(header_text: bytes, data: bytes = b"", header_len=None) -> bytes:
    n = len(header_text) if header_len is None else header_len
    return struct.pack("<Q", n) + header_text + data


def st_tensor(name, shape, begin, end, dtype="F32"):
    return f'"{name}":{{"dtype":"{dtype}","shape":{json.dumps(shape)},"data_offsets":[{begin},{end}]}}'


def st_header(*tensors):
    return ("{" + ",".join(tensors) + "}").encode()


HOSTILE_SAFETENSORS = {
    "header_length_past_end": ("header", st_file(b"{}", header_len=10**6)),
    "header_length_2^63": ("header", st_file(b"{}", header_len=2**63)),
    "header_not_json": ("json", st_file(b"{not json at all")),
    "header_not_object": ("header", st_file(b"[1, 2, 3]")),
    "duplicate_tensor_name": ("duplicate", st_file(
        st_header(st_tensor("a", [1], 0, 4), st_tensor("a", [1], 4, 8)), bytes(8))),
    "offsets_past_data": ("'a'", st_file(st_header(st_tensor("a", [2], 0, 8)), bytes(4))),
    "size_not_shape": ("'a'", st_file(st_header(st_tensor("a", [3], 0, 8)), bytes(8))),
    "begin_after_end": ("'a'", st_file(st_header(st_tensor("a", [0], 8, 4)), bytes(8))),
    "overlapping": ("'b'", st_file(
        st_header(st_tensor("a", [2], 0, 8), st_tensor("b", [2], 4, 12)), bytes(12))),
    "hole": ("'a'", st_file(st_header(st_tensor("a", [1], 4, 8)), bytes(8))),
    "negative_dim": ("'a'", st_file(st_header(st_tensor("a", [-1], 0, 4)), bytes(4))),
    "huge_shape": ("'a'", st_file(st_header(st_tensor("a", [2**32] * 3, 0, 4)), bytes(4))),
    "unknown_dtype": ("'a'", st_file(st_header(st_tensor("a", [1], 0, 4, dtype="F99")), bytes(4))),
    "metadata_not_strings": ("__metadata__", st_file(b'{"__metadata__":{"k":1}}')),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_SAFETENSORS))
def test_hostile_safetensors_is_refused(inspect, tmp_path, case):
    word, data = HOSTILE_SAFETENSORS[case]
    path = tmp_path / f"{case}.safetensors"
    path.write_bytes(data)
    assert word.lower() in assert_refused(inspect, path).lower()


def test_safetensors_rank_above_max_dims_is_refused(inspect, tmp_path):
    """Any rank is valid safetensors (the reference writes this file); our tensor table holds at
    most TINFER_MAX_DIMS = 4 dims, so rank 5 is refused as unsupported, naming tensor and rank,
    and rank 4 keeps its whole shape."""
    path = tmp_path / "rank5.safetensors"
    save_file({"ok": np.zeros((2, 1, 3, 2), np.float32),
               "five_d": np.zeros((1, 2, 1, 3, 2), np.float32)}, str(path))
    for extra in ([], ["--json"]):
        line = assert_refused(inspect, path, *extra)
        assert "tensor 'five_d': rank 5, at most 4 dimensions are supported" in line, line
    path = tmp_path / "rank4.safetensors"
    save_file({"ok": np.zeros((2, 1, 3, 2), np.float32)}, str(path))
    assert [t["shape"] for t in inspect.json(path)["tensors"]] == [[2, 1, 3, 2]]


def test_directory_without_config_json_is_refused(inspect, tmp_path, st_arrays):
    save_file(st_arrays, str(tmp_path / "model.safetensors"))
    assert_refused(inspect, tmp_path)


def test_empty_directory_is_refused(inspect, tmp_path):
    assert_refused(inspect, tmp_path)


def test_missing_path_is_refused(inspect, tmp_path):
    line = assert_refused(inspect, tmp_path / "no-such-model.gguf")
    assert "no-such-model.gguf" in line


@pytest.mark.parametrize("args", [[], ["--bogus", "x.gguf"], ["a.gguf", "b.gguf"], ["--json"]])
def test_usage_errors_exit_2(inspect, args):
    result = inspect.run(*args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("tinfer-inspect: "), result.stderr


# ---------------------------------------------------------------- the default model


def test_default_model_against_gguf_reader(inspect, default_model):
    info = inspect.json(default_model, full=False)
    assert info["format"] == "gguf"
    assert info["gguf_version"] == 3
    assert info["architecture"] == "gemma3"
    assert info["n_tensors"] == 236
    assert len(info["tensors"]) == 236

    reader = GGUFReader(default_model)
    assert [t["name"] for t in info["tensors"]] == [t.name for t in reader.tensors]
    for entry, rt in zip(info["tensors"], reader.tensors):
        assert entry["dtype"] == QT(rt.tensor_type).name, rt.name
        assert entry["shape"] == list(reversed(rt.shape.tolist())), rt.name
        assert (entry["n_elements"], entry["n_bytes"], entry["offset"]) == (
            int(rt.n_elements), int(rt.n_bytes), int(rt.data_offset)), rt.name
    assert info["n_params"] == sum(int(t.n_elements) for t in reader.tensors)
    assert info["total_bytes"] == sum(int(t.n_bytes) for t in reader.tensors)

    fields = [f for name, f in reader.fields.items() if not name.startswith("GGUF.")]
    assert [e["key"] for e in info["metadata"]] == [f.name for f in fields]
    for entry, field in zip(info["metadata"], fields):
        assert entry["type"] == TYPE_NAMES[field.types[0]], field.name
        if field.types[0] == VT.ARRAY:
            n_elems = len(field.data)
            assert (entry["elem_type"], entry["n_elems"]) == (TYPE_NAMES[field.types[-1]], n_elems)
            assert entry["truncated"] is (n_elems > JSON_ARRAY_PREVIEW)
            values = [reader_value(field, j) for j in range(min(n_elems, JSON_ARRAY_PREVIEW))]
            got = entry["value"]
        else:
            values, got = [reader_value(field)], [entry["value"]]
        assert len(got) == len(values), field.name
        for g, w in zip(got, values):
            if isinstance(w, bytes):
                try:
                    w = w.decode("utf-8")
                except UnicodeDecodeError:
                    continue  # inspect replaces invalid bytes with U+FFFD
            assert same_number(w, g), f"{field.name}: {g!r} != {w!r}"

    meta = {f.name: f for f in fields}
    hp = info["hparams"]
    expect = {
        "n_embd": "gemma3.embedding_length", "n_layer": "gemma3.block_count",
        "n_head": "gemma3.attention.head_count", "n_head_kv": "gemma3.attention.head_count_kv",
        "n_ff": "gemma3.feed_forward_length", "n_ctx_train": "gemma3.context_length",
        "head_dim": "gemma3.attention.key_length", "head_dim_v": "gemma3.attention.value_length",
        "sliding_window": "gemma3.attention.sliding_window",
    }
    for field, key in expect.items():
        assert hp[field] == reader_value(meta[key]), field
    n_tokens = len(meta["tokenizer.ggml.tokens"].data)
    assert hp["n_vocab"] == n_tokens
    assert info["tokenizer"]["n_tokens"] == n_tokens
    assert info["tokenizer"]["model"] == reader_value(meta["tokenizer.ggml.model"]).decode()
    assert info["tokenizer"]["bos_id"] == reader_value(meta["tokenizer.ggml.bos_token_id"])
    assert info["tokenizer"]["eos_id"] == reader_value(meta["tokenizer.ggml.eos_token_id"])
