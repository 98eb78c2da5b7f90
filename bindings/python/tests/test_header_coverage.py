"""The binding against the public headers: every TINFER_API function is bound (or listed in
NOT_BOUND with a reason), with the header's return and argument types; every struct has the
header's fields in order; every enum value and flag is the header's. The C types are parsed from
include/tinfer/*.h here and mapped to ctypes by this file's own table, independent of _capi."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import tinfer
from tinfer import _capi
from conftest import ROOT

HEADERS = sorted((ROOT / "include" / "tinfer").glob("*.h"))

SCALARS = {
    "void": None, "int": ctypes.c_int, "bool": ctypes.c_bool, "size_t": ctypes.c_size_t,
    "float": ctypes.c_float, "double": ctypes.c_double, "char": ctypes.c_char,
    "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32, "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64, "uint8_t": ctypes.c_uint8,
}


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_text() -> str:
    return "\n".join(_strip_comments(p.read_text()) for p in HEADERS)


def without_preprocessor(text: str) -> str:
    """The text without #-lines (and their backslash continuations)."""
    text = re.sub(r"\\\n", " ", text)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def enum_names(text: str) -> List[str]:
    return re.findall(r"typedef\s+enum\s+\w+\s*\{.*?\}\s*(\w+)\s*;", text, flags=re.S)


def parse_functions(text: str) -> Dict[str, Tuple[str, List[str]]]:
    """name → (return type, [parameter types]) of every TINFER_API declaration."""
    found = {}
    for match in re.finditer(r"TINFER_API\s+([^;{]*?)\b(tinfer_\w+)\s*\(([^)]*)\)\s*;", text,
                             flags=re.S):
        ret, name, params = match.group(1), match.group(2), match.group(3)
        params = " ".join(params.split())
        types = [] if params in ("", "void") else [_drop_name(p) for p in params.split(",")]
        found[name] = (" ".join(ret.split()), types)
    return found


def _drop_name(param: str) -> str:
    """'const int32_t *tokens' → 'const int32_t *'."""
    param = param.strip()
    match = re.match(r"^(.*?[\s*])(\w+)$", param)
    return " ".join(match.group(1).split()) if match else param


def ctype_of(c_type: str, enums: List[str]):
    """The ctypes type a C type must be bound as."""
    c_type = c_type.replace("const ", "").strip()
    stars = c_type.count("*")
    base = c_type.replace("*", "").strip()
    if base == "char" and stars == 1:
        return "char*"  # const char * is c_char_p, char * an output buffer: checked by caller
    if base in SCALARS:
        t = SCALARS[base]
    elif base in enums:
        t = ctypes.c_int
    elif base in _capi.STRUCTS:
        t = _capi.STRUCTS[base]
    elif base in _capi.OPAQUE:
        t = _capi.OPAQUE[base]
    elif base in _capi.FUNCTION_POINTERS and stars == 0:
        return _capi.FUNCTION_POINTERS[base]
    else:
        raise AssertionError(f"the test does not know the C type {base!r}")
    for _ in range(stars):
        t = ctypes.POINTER(t) if t is not None else ctypes.c_void_p
    return t


def same_ctype(bound, c_type: str, enums: List[str]) -> bool:
    want = ctype_of(c_type, enums)
    if want == "char*":
        is_const = c_type.startswith("const")
        return bound is (ctypes.c_char_p if is_const else ctypes.POINTER(ctypes.c_char))
    return bound is want


HEADER = header_text()
ENUMS = enum_names(HEADER)
DECLARED = parse_functions(without_preprocessor(HEADER))


def test_the_headers_were_parsed():
    assert len(HEADERS) >= 3
    # a floor well under today's count: the parser must not silently find nothing
    assert len(DECLARED) >= 40, sorted(DECLARED)
    assert "tinfer_model_load" in DECLARED and "tinfer_tokenize" in DECLARED


def test_every_api_function_is_bound_or_excused():
    unbound = sorted(set(DECLARED) - set(_capi.FUNCTIONS) - set(_capi.NOT_BOUND))
    assert not unbound, f"TINFER_API functions without a binding (bind them in _capi.FUNCTIONS " \
                        f"or give the reason in _capi.NOT_BOUND): {unbound}"
    for name, reason in _capi.NOT_BOUND.items():
        assert reason.strip(), f"NOT_BOUND[{name!r}] gives no reason"


# The context API is bound ahead of its header (it may land later than the binding): its
# declarations are checked whenever include/tinfer/context.h is there, and only then.
CONTEXT_DECLARATIONS = {"tinfer_context_params", "tinfer_kv_dtype"}


def test_nothing_is_bound_that_the_headers_do_not_declare():
    extra = sorted((set(_capi.FUNCTIONS) | set(_capi.NOT_BOUND)) - set(DECLARED))
    if "tinfer_context_create" not in DECLARED:
        extra = [name for name in extra if not _capi._is_optional(name)]
    assert not extra, f"bound or excused but not in include/tinfer/*.h: {extra}"


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_signature_matches_the_header(name):
    if name in _capi.NOT_BOUND:
        pytest.skip(f"not bound: {_capi.NOT_BOUND[name]}")
    ret, params = DECLARED[name]
    restype, argtypes = _capi.FUNCTIONS[name]
    assert same_ctype(restype, ret, ENUMS), f"{name}: returns {ret}, bound as {restype}"
    assert len(argtypes) == len(params), f"{name}: {len(params)} parameters, bound with " \
                                         f"{len(argtypes)}"
    for i, (bound, c_type) in enumerate(zip(argtypes, params)):
        assert same_ctype(bound, c_type, ENUMS), f"{name} parameter {i}: {c_type}, bound as {bound}"
    api = _capi.api()
    if api.has(name):  # and the loaded function object carries those declarations
        fn = getattr(api, name)
        assert fn.restype is restype and list(fn.argtypes) == list(argtypes)


def parse_structs(text: str) -> Dict[str, List[Tuple[str, str]]]:
    structs = {}
    for body, name in re.findall(r"typedef\s+struct\s+\w+\s*\{(.*?)\}\s*(\w+)\s*;", text,
                                 flags=re.S):
        fields = []
        for decl in body.split(";"):
            decl = " ".join(decl.split())
            if not decl:
                continue
            match = re.match(r"^(.*?[\s*])(\w+)(\[(\w+)\])?$", decl)
            assert match, f"cannot parse field {decl!r} of {name}"
            fields.append((match.group(2), " ".join(match.group(1).split())
                           + (f"[{match.group(4)}]" if match.group(3) else "")))
        structs[name] = fields
    return structs


STRUCTS = parse_structs(HEADER)


def bound_names(names) -> set:
    if "tinfer_context_create" in DECLARED:
        return set(names)
    return set(names) - CONTEXT_DECLARATIONS


def test_every_header_struct_is_declared():
    assert set(STRUCTS) == bound_names(_capi.STRUCTS), (sorted(STRUCTS), sorted(_capi.STRUCTS))


@pytest.mark.parametrize("name", sorted(STRUCTS))
def test_struct_fields_match_the_header(name):
    bound = _capi.STRUCTS[name]._fields_
    header = STRUCTS[name]
    assert [f for f, _ in bound] == [f for f, _ in header], name
    for (field, ctype), (_, c_type) in zip(bound, header):
        array = re.match(r"^(.*)\[(\w+)\]$", c_type)
        if array:
            length = _capi.DEFINES[array.group(2).replace("TINFER_", "")]
            assert ctype._length_ == length and ctype._type_ is ctype_of(array.group(1), ENUMS)
        else:
            assert same_ctype(ctype, c_type, ENUMS), f"{name}.{field}: {c_type}, bound as {ctype}"


def parse_enum_values(text: str) -> Dict[str, Dict[str, int]]:
    values: Dict[str, Dict[str, int]] = {}
    for body, name in re.findall(r"typedef\s+enum\s+\w+\s*\{(.*?)\}\s*(\w+)\s*;", text,
                                 flags=re.S):
        values[name] = {k.replace("TINFER_", "", 1): int(v)
                        for k, v in re.findall(r"(TINFER_\w+)\s*=\s*(\d+)", body)}
    # the status enum is generated by TINFER_STATUS_MAP(X): X(NAME, value)
    values["tinfer_status"] = {k: int(v) for k, v in re.findall(r"X\((\w+),\s*(\d+)\)", text)}
    return values


def test_enum_values_match_the_header():
    parsed = parse_enum_values(HEADER)
    assert set(parsed) == bound_names(_capi.ENUMS)
    for name, values in parsed.items():
        assert values, f"no values parsed for {name}"
        assert values == _capi.ENUMS[name], name
    assert {s.name: s.value for s in tinfer.Status} == parsed["tinfer_status"]


def test_defines_match_the_header():
    raw = dict(re.findall(r"#define\s+TINFER_(\w+)\s+(0x[0-9a-fA-F]+u?|\d+u?)\b", HEADER))
    raw["TOKENIZE_DEFAULT"] = str(int(raw["TOKENIZE_ADD_SPECIAL"].rstrip("u"), 0)
                                  | int(raw["TOKENIZE_PARSE_SPECIAL"].rstrip("u"), 0))
    for name, value in _capi.DEFINES.items():
        assert name in raw, f"TINFER_{name} is not defined in the headers"
        assert int(raw[name].rstrip("u"), 0) == value, name


def _init(api, struct_type, name):
    raw = struct_type()
    getattr(api, name)(ctypes.byref(raw), ctypes.sizeof(raw))
    return raw


def test_struct_sizes_agree_with_the_library():
    """Params filled by the library through ctypes.sizeof come back intact: the size ctypes
    computes is the C one."""
    api = _capi.api()
    params = _init(api, _capi.SamplerParams, "tinfer_sampler_params_init")
    assert (params.top_k, params.penalty_last_n, params.seed) == (40, 64, 0)
    assert abs(params.temperature - 0.8) < 1e-6 and abs(params.min_p - 0.05) < 1e-6
    assert _init(api, _capi.ModelParams, "tinfer_model_params_init").use_mmap is True
    if api.has("tinfer_context_params_init"):
        ctx = _init(api, _capi.ContextParams, "tinfer_context_params_init")
        assert (ctx.n_ctx, ctx.n_seq_max, ctx.n_batch) == (4096, 1, 512)
        assert (ctx.device, ctx.device_index) == (0, 0)


def test_experimental_functions_are_the_experimental_headers():
    """_capi.EXPERIMENTAL names exactly what include/tinfer/experimental.h declares, and no other
    header declares those."""
    experimental = ROOT / "include" / "tinfer" / "experimental.h"
    declared = set(parse_functions(without_preprocessor(_strip_comments(experimental.read_text()))))
    assert declared and declared == set(_capi.EXPERIMENTAL)
    stable = "\n".join(_strip_comments(p.read_text()) for p in HEADERS if p != experimental)
    assert not declared & set(parse_functions(without_preprocessor(stable)))


def test_every_declaration_says_since():
    """Each TINFER_API function and each typedef'd struct or enum has "Since X.Y" in the comment
    right above it (or in the section comment it opens)."""
    missing = []
    for path in HEADERS:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if not (line.startswith("TINFER_API") or re.match(r"typedef (struct|enum) \w+", line)):
                continue
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            comment = []
            while j >= 0 and lines[j].lstrip().startswith(("*", "/*")):
                comment.append(lines[j])
                if lines[j].lstrip().startswith("/*"):
                    break
                j -= 1
            if not re.search(r"Since \d+\.\d+", " ".join(comment)):
                missing.append(f"{path.name}:{i + 1}: {line.strip()}")
    assert not missing, "declarations without a 'Since': " + "; ".join(missing)


def test_loaded_library_version_matches_the_header():
    assert tinfer.version_number() == (_capi.DEFINES["VERSION_MAJOR"] * 10000
                                       + _capi.DEFINES["VERSION_MINOR"] * 100
                                       + _capi.DEFINES["VERSION_PATCH"])
    assert tinfer.version() == "{}.{}.{}".format(_capi.DEFINES["VERSION_MAJOR"],
                                                 _capi.DEFINES["VERSION_MINOR"],
                                                 _capi.DEFINES["VERSION_PATCH"])
