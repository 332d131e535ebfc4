"""Mutation fuzzing of ``rt3d-opt`` over the lit inputs: never crash, never hang, never half-write.

Each mutant is one chunk of a ``.mlir`` file under test/ (or what a producer pass
such as ``sparse3d-from-linalg`` made of it, so that real ``dense_resource`` blobs
and scheduled ``sparse3d`` ops get mutated too), changed by one or two mutations:
tokens or lines deleted, duplicated or swapped; bad numbers (huge, negative, nan,
0); wrong element types, ranks and shapes; ``dense`` constants turned into
truncated or corrupted ``dense_resource`` blobs; attributes of the wrong kind or
length, above all in ``sparse3d.*`` attributes and the module's
``sparse3d.target`` / ``sparse3d.gpu_target``. It runs with the passes of its
file's RUN lines, or with passes and pipelines drawn from ``rt3d-opt
--list-passes`` (options sometimes bad too), and ``-o OUT`` (which sometimes
exists already). Every run must keep the command-line contract
(:func:`check`): exit status 0 or 1, no Python traceback, no internal error, no
hang, diagnostics as ``file:line:col: severity: message`` at a line of the input,
nothing on stdout; after a failure ``-o`` untouched (absent, or its previous
contents) and no temporary file left next to it; after a success ``-o`` written.

Speed: starting Python with torch-mlir costs 1-4 s on the 2-core CI machine, a
mutant 0.02-0.5 s. So the mutants run in one long-lived child process
(rt3d_opt_worker.py) that calls ``rt3d_opt.main(argv)`` per mutant with fds 1 and
2 on files, and is replaced after a crash (a signal) or a timeout, which are
failures of the mutant that caused them. ``main`` builds a fresh MLIR context on
every call, so one run cannot leak IR or diagnostics into the next;
``test_the_worker_answers_like_the_cli`` checks, on mutants of both outcomes, that
the worker's exit status, stdout, stderr and ``-o`` file match those of the real
console script run in its own process (resource names aside: their counters are
per process).

Default run: a fixed seed and 500 mutants (about 30 s on the 2-core machine). Long campaigns::

    RT3D_FUZZ_MUTANTS=5000 RT3D_FUZZ_SEED=random .venv/bin/python -m pytest -s test/python/test_rt3d_opt_fuzz.py -k mutants

``RT3D_FUZZ_SEED``: an integer, or ``random`` (the seed drawn is printed);
``RT3D_FUZZ_TIMEOUT``: seconds a mutant may run (60); ``RT3D_FUZZ_MEMORY_LIMIT``:
the worker's address-space limit in bytes (8 GiB: a mutant with a huge shape must
fail there, not take a shared machine's memory); ``RT3D_FUZZ_FAILURES``: a folder
to keep the failing mutants in, with failures.txt listing them (default: the
test's temporary folder). The summary (mutants by outcome) prints with ``-s``;
each failure names its mutant file and the ``rt3d-opt`` command that reproduces it.
"""

from __future__ import annotations

import collections
import json
import os
import random
import re
import select
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

TEST_ROOT = Path(__file__).parents[1]
WORKER = Path(__file__).with_name("rt3d_opt_worker.py")
CLI = Path(sys.executable).with_name("rt3d-opt")

MUTANTS = int(os.environ.get("RT3D_FUZZ_MUTANTS", "500"))
TIMEOUT_S = float(os.environ.get("RT3D_FUZZ_TIMEOUT", "60"))

# --- seeds -------------------------------------------------------------------------------------------

SPLIT_MARKER = re.compile(r"^// -----[ \t]*$", re.MULTILINE)
RUN_LINE = re.compile(r"^// RUN: (.*)$", re.MULTILINE)
_END_OF_COMMAND = {"|", "&&", "||", ";"}
NO_INPUT = {"--help", "--list-passes", "--emit-irdl"}  # RUN lines with these do not read the input


@dataclass(frozen=True)
class Seed:
    name: str  # file:line of the chunk
    text: str
    runs: tuple[tuple[str, ...], ...]  # pass arguments of the file's rt3d-opt RUN lines


def run_arguments(run_line: str) -> tuple[str, ...] | None:
    """The options of the rt3d-opt command in a RUN line, without its input, output and redirections."""
    tokens = shlex.split(run_line)
    if "rt3d-opt" not in tokens:
        return None
    arguments, skip = [], False
    for token in tokens[tokens.index("rt3d-opt") + 1 :]:
        if token in _END_OF_COMMAND or token.startswith(("<", ">", "2>", "1>")):
            break
        if skip:
            skip = False
        elif token == "-o":
            skip = True
        elif token != "-" and not token.startswith("%"):
            arguments.append(token)
    return tuple(arguments)


def without_comments(text: str) -> str:
    """The chunk with its comment lines blanked (kept as lines: expected-* @+N offsets still hold), expected-* kept."""
    return "\n".join("" if line.lstrip().startswith("//") and "expected-" not in line else line for line in text.split("\n"))


def load_seeds() -> list[Seed]:
    seeds = []
    for path in sorted(TEST_ROOT.rglob("*.mlir")):
        text = path.read_text()
        runs = tuple(dict.fromkeys(a for a in map(run_arguments, RUN_LINE.findall(text))
                                   if a is not None and not NO_INPUT.intersection(a)))
        start = 0
        for marker in [*SPLIT_MARKER.finditer(text), None]:
            end = marker.start() if marker else len(text)
            chunk = without_comments(text[start:end])
            if chunk.strip():
                line = text.count("\n", 0, start) + 1
                seeds.append(Seed(f"{path.relative_to(TEST_ROOT)}:{line}", chunk, runs))
            start = marker.end() if marker else end
    return seeds


# --- mutations ---------------------------------------------------------------------------------------

BAD_NUMBERS = ["0", "-1", "-3", "1", "7", "65536", "2147483648", "-2147483649", "4294967296", "9223372036854775807",
               "-9223372036854775808", "18446744073709551616", "99999999999999999999999", "1.5", "-0.0", "nan", "inf",
               "-inf", "1e309", "0x7FC00000", "0xFFFFFFFFFFFFFFFF"]
ELEMENT_TYPES = ["f16", "bf16", "f32", "f64", "i1", "i8", "i16", "i32", "i64", "index", "si32", "ui8", "complex<f32>", "none"]
DIMENSIONS = ["0", "1", "2", "3", "?", "7", "4096", "2147483648", "9223372036854775807"]
WRONG_VALUES = ['"8x4"', '""', "unit", "true", "array<i64>", "array<i64: 1>", "array<i64: 1, 2, 3, 4, 5, 6, 7>",
                "array<i64: 0, 0, 0>", "array<i64: -1, 1, 1>", "array<i32: 3, 3, 3>", "array<si32: 1, 1, 1>", "array<ui8: 8, 4>", "array<f32: 1.0, 2.0>", "[1, 2]",
                "[]", "{}", '{name = "x"}', "1.5 : f32", "0 : i64", "-1 : i64", "0 : i32", "9223372036854775807 : i64",
                "dense<1> : tensor<2xi64>", '"relu"', '"gelu"', '"host-avx2"', '"desktop"', "@f", "affine_map<(d0) -> (d0)>",
                "#sparse3d.nothing", "i64", "loc(unknown)"]
# Attribute names the passes and the verifier read: mutated more often than the rest.
SPARSE3D_KEYS = {"group_shape", "kernel_size", "strides", "padding", "dilations", "filter_permutation", "activation",
                 "cores", "l1_bytes", "name", "vector_lanes", "vector_registers", "compute_units", "max_invocations",
                 "max_storage_buffer_bytes", "max_workgroup_count", "max_workgroup_size", "shared_memory_bytes",
                 "subgroup_size", "fp16", "fp16_math", "channel_groups", "filters", "rows", "threads", "w_vectors",
                 "filter_vectors", "columns", "channel_chunk", "kernel", "workgroup_size", "outputs_per_thread"}
CPU_TARGET = ('{cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, '
              "vector_registers = 16 : i64}")
GPU_TARGET = ("{compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, "
              "max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, "
              'name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}')

TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|0x[0-9A-Fa-f]+|[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[%@^#!]?[\w.$]+|->|::|\S')
NUMBER = re.compile(r"(?<![\w.%#@^$!])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")
ELEMENT_TYPE = re.compile(r"(?<![\w.%@#!$])(?:bf16|f16|f32|f64|i1|i8|i16|i32|i64|index)(?![\w.])")
SHAPED = re.compile(r"\b(?:tensor|memref|vector)<((?:(?:\d+|\?)x)*)([a-z]\w*)>")
TORCH_SHAPE = re.compile(r"vtensor<\[([-\d,]*)\],(\w+)>")
ENTRY = re.compile(r'(?<![\w.%@#!$^"])([A-Za-z_][\w.]*) = ')
DENSE_CONSTANT = re.compile(r"dense<([^<>]*)> : tensor<((?:\d+x)*)(f16|f32|f64|i1|i8|i32|i64)>")
BLOB = re.compile(r'^(\s*)([\w.]+): "0x([0-9A-Fa-f]*)"', re.MULTILINE)
_NUMPY = {"f16": "<f2", "f32": "<f4", "f64": "<f8", "i1": "?", "i8": "i1", "i32": "<i4", "i64": "<i8"}

Mutation = Callable[[random.Random, str], "str | None"]


def _replace(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _pick(rng: random.Random, matches: list[re.Match]) -> re.Match | None:
    return rng.choice(matches) if matches else None


def delete_token(rng: random.Random, text: str) -> str | None:
    token = _pick(rng, list(TOKEN.finditer(text)))
    return token and _replace(text, token.start(), token.end(), "")


def duplicate_token(rng: random.Random, text: str) -> str | None:
    token = _pick(rng, list(TOKEN.finditer(text)))
    return token and _replace(text, token.start(), token.end(), f"{token[0]} {token[0]}")


def swap_tokens(rng: random.Random, text: str) -> str | None:
    tokens = list(TOKEN.finditer(text))
    if len(tokens) < 2:
        return None
    index = rng.randrange(len(tokens) - 1)
    # an adjacent pair mostly; sometimes two tokens far apart
    other = index + 1 if rng.random() < 0.7 else rng.randrange(index + 1, len(tokens))
    first, second = tokens[index], tokens[other]
    return text[: first.start()] + second[0] + text[first.end() : second.start()] + first[0] + text[second.end() :]


def _lines(text: str) -> tuple[list[str], list[int]]:
    lines = text.split("\n")
    return lines, [i for i, line in enumerate(lines) if line.strip()]


def delete_line(rng: random.Random, text: str) -> str | None:
    lines, filled = _lines(text)
    if not filled:
        return None
    del lines[rng.choice(filled)]
    return "\n".join(lines)


def duplicate_line(rng: random.Random, text: str) -> str | None:
    lines, filled = _lines(text)
    if not filled:
        return None
    index = rng.choice(filled)
    lines.insert(index, lines[index])
    return "\n".join(lines)


def swap_lines(rng: random.Random, text: str) -> str | None:
    lines, filled = _lines(text)
    if len(filled) < 2:
        return None
    first, second = rng.sample(filled, 2)
    lines[first], lines[second] = lines[second], lines[first]
    return "\n".join(lines)


def bad_number(rng: random.Random, text: str) -> str | None:
    number = _pick(rng, list(NUMBER.finditer(text)))
    return number and _replace(text, number.start(), number.end(), rng.choice(BAD_NUMBERS))


def wrong_element_type(rng: random.Random, text: str) -> str | None:
    found = _pick(rng, list(ELEMENT_TYPE.finditer(text)))
    return found and _replace(text, found.start(), found.end(), rng.choice([t for t in ELEMENT_TYPES if t != found[0]]))


def _mutated_dimensions(rng: random.Random, dims: list[str]) -> list[str]:
    dims = list(dims)
    choice = rng.randrange(4) if dims else 3
    if choice == 0:
        del dims[rng.randrange(len(dims))]
    elif choice == 1:
        index = rng.randrange(len(dims))
        dims.insert(index, dims[index])
    elif choice == 2:
        dims[rng.randrange(len(dims))] = rng.choice(DIMENSIONS)
    else:
        dims.insert(rng.randrange(len(dims) + 1), rng.choice(DIMENSIONS))
    return dims


def wrong_shape(rng: random.Random, text: str) -> str | None:
    """A shaped type (or a torch vtensor) with a dimension dropped, repeated, added or changed."""
    shapes = list(SHAPED.finditer(text)) + list(TORCH_SHAPE.finditer(text))
    found = _pick(rng, shapes)
    if found is None:
        return None
    if found.re is SHAPED:
        dims = _mutated_dimensions(rng, re.findall(r"(\d+|\?)x", found[1]))
        return _replace(text, found.start(1), found.end(1), "".join(f"{d}x" for d in dims))
    dims = _mutated_dimensions(rng, [d for d in found[1].split(",") if d])
    return _replace(text, found.start(1), found.end(1), ",".join("-1" if d == "?" else d for d in dims))


def value_end(text: str, start: int) -> int:
    """Where the attribute value starting at ``start`` ends: at a ',' or a closing bracket outside brackets."""
    depth, index = 0, start
    while index < len(text):
        char = text[index]
        if char == '"':
            index += 1
            while index < len(text) and text[index] not in '"\n':
                index += 2 if text[index] == "\\" else 1
        elif char in "([{<":
            depth += 1
        elif char == ">" and text[index - 1] == "-":  # the arrow of an affine map
            pass
        elif char in ")]}>":
            if depth == 0:
                return index
            depth -= 1
        elif (char == "," or char == "\n") and depth == 0:
            return index
        index += 1
    return index


def _entries(text: str, span: tuple[int, int] | None = None) -> list[tuple[re.Match, int]]:
    """The ``name = value`` attribute entries (inside ``span`` if given), each with where its value ends."""
    entries = [(m, value_end(text, m.end())) for m in ENTRY.finditer(text)]
    if span is not None:
        entries = [(m, end) for m, end in entries if span[0] <= m.start() and end <= span[1]]
    return entries


def _mutated_value(rng: random.Random, value: str) -> str:
    array = re.fullmatch(r"array<(\w+)(?:: (.*))?>", value)
    if array and rng.random() < 0.5:
        items = array[2].split(", ") if array[2] else []
        if items and rng.random() < 0.5:
            del items[rng.randrange(len(items))]
        else:
            items.insert(rng.randrange(len(items) + 1), rng.choice(BAD_NUMBERS[:12]))
        return f"array<{array[1]}: {', '.join(items)}>" if items else f"array<{array[1]}>"
    integer = re.fullmatch(r"-?\d+ : (\w+)", value)
    if integer and rng.random() < 0.5:
        return f"{rng.choice(BAD_NUMBERS[:12])} : {integer[1]}"
    return rng.choice(WRONG_VALUES)


def mutate_entry(rng: random.Random, text: str, span: tuple[int, int] | None = None) -> str | None:
    """An attribute entry with a value of the wrong kind or length, deleted, or repeated."""
    entries = _entries(text, span)
    preferred = [e for e in entries if e[0][1] in SPARSE3D_KEYS or e[0][1].startswith("sparse3d.")]
    if not entries:
        return None
    entry, end = rng.choice(preferred if preferred and rng.random() < 0.75 else entries)
    value = text[entry.end() : end]
    choice = rng.random()
    if choice < 0.15:  # delete the entry and one of its separators
        start, stop = entry.start(), end
        if text[stop : stop + 2] == ", ":
            stop += 2
        elif text[start - 2 : start] == ", ":
            start -= 2
        return _replace(text, start, stop, "")
    if choice < 0.25:  # the same key twice
        return _replace(text, entry.start(), entry.start(), f"{entry[1]} = {_mutated_value(rng, value)}, ")
    return _replace(text, entry.end(), end, _mutated_value(rng, value))


def mutate_attribute(rng: random.Random, text: str) -> str | None:
    return mutate_entry(rng, text)


def _with_module_attribute(text: str, name: str, value: str) -> str | None:
    """The chunk with ``name = value`` among its module's attributes (the module made explicit if need be)."""
    body, resources = (text.split("{-#", 1) + [""])[:2]
    resources = f"{{-#{resources}" if resources else ""
    if re.search(r"^module attributes \{", body, re.MULTILINE):
        return re.sub(r"^module attributes \{", f"module attributes {{{name} = {value}, ", body, count=1, flags=re.M) + resources
    if re.search(r"^module \{", body, re.MULTILINE):
        return re.sub(r"^module \{", f"module attributes {{{name} = {value}}} {{", body, count=1, flags=re.M) + resources
    if re.search(r"^\s*module\b", body, re.MULTILINE):
        return None  # nested or named modules: leave them be
    return f"module attributes {{{name} = {value}}} {{\n{body}\n}}\n{resources}"


def mutate_target(rng: random.Random, text: str) -> str | None:
    """A field of the module's sparse3d.target or sparse3d.gpu_target (added first when absent) made wrong."""
    name, value = rng.choice([("sparse3d.target", CPU_TARGET), ("sparse3d.gpu_target", GPU_TARGET)])
    if f"{name} = " not in text:
        text = _with_module_attribute(text, name, value)
        if text is None:
            return None
    start = text.index(f"{name} = ") + len(name) + 3
    if rng.random() < 0.1:  # the whole attribute of the wrong kind
        return _replace(text, start, value_end(text, start), rng.choice(WRONG_VALUES))
    return mutate_entry(rng, text, (start, value_end(text, start)))


def _blob_hex(values: str, dims: str, element: str) -> str | None:
    """The hex of a dense_resource blob (4-byte alignment header, then the data) for a dense literal, if simple."""
    count = int(np.prod([int(d) for d in re.findall(r"\d+", dims)] or [1]))
    numbers = re.findall(r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|true|false)", values)
    if count > 4096 or not numbers or (len(numbers) != 1 and len(numbers) != count):
        return None
    parsed = [n == "true" if n in ("true", "false") else float(n) for n in numbers]
    with np.errstate(invalid="ignore", over="ignore"):  # a mutated nan or 1e309 in an integer blob: any bits do
        data = np.array(parsed * count if len(parsed) == 1 else parsed).astype(_NUMPY[element])
    alignment = max(data.dtype.itemsize, 1)
    return alignment.to_bytes(4, "little").hex().upper() + data.tobytes().hex().upper()


def _corrupted_blob(rng: random.Random, hex_digits: str) -> str:
    """A blob's value (with its quotes) truncated, with a bad header, a non-hex digit, empty, or not a string."""
    choice = rng.randrange(8)
    if choice == 0:
        return f'"0x{hex_digits[: rng.randrange(len(hex_digits) + 1)]}"'
    if choice == 1:
        return f'"0x{hex_digits[:-1]}"'  # odd length
    if choice == 2:
        return f'"0x{rng.choice(["00000000", "03000000", "FFFFFFFF", "00010000"])}{hex_digits[8:]}"'
    if choice == 3:
        index = rng.randrange(len(hex_digits) + 1)
        return f'"0x{hex_digits[:index]}G{hex_digits[index:]}"'
    if choice == 4:
        return '"0x"'
    if choice == 5:
        return f'"{hex_digits}"'  # no 0x
    if choice == 6:
        return f'"0x{hex_digits}{hex_digits[8:]}"'  # twice the data
    return rng.choice(["42", "unit", '""', "dense<1.0> : tensor<1xf32>"])


def corrupt_resource(rng: random.Random, text: str) -> str | None:
    """A dense_resource blob truncated or corrupted, dropped, or renamed; a dense constant made one first if none."""
    blobs = list(BLOB.finditer(text))
    if not blobs:
        dense = _pick(rng, list(DENSE_CONSTANT.finditer(text)))
        hex_digits = dense and _blob_hex(dense[1], dense[2], dense[3])
        if hex_digits is None or "{-#" in text:
            return None
        text = (_replace(text, dense.start(), dense.end(), f"dense_resource<fuzz_blob> : tensor<{dense[2]}{dense[3]}>")
                + f'\n{{-#\n  dialect_resources: {{\n    builtin: {{\n      fuzz_blob: "0x{hex_digits}"\n    }}\n  }}\n#-}}\n')
        if rng.random() < 0.2:  # a valid blob: the passes read its data
            return text
        blobs = list(BLOB.finditer(text))
    blob = rng.choice(blobs)
    choice = rng.random()
    if choice < 0.1:
        return _replace(text, blob.start(), blob.end(), "")
    if choice < 0.2:
        return _replace(text, blob.start(2), blob.end(2), blob[2] + "_renamed")
    return _replace(text, blob.start(3) - 3, blob.end(3) + 1, _corrupted_blob(rng, blob[3]))


# operator -> weight
MUTATIONS: dict[Mutation, int] = {
    delete_token: 3, duplicate_token: 2, swap_tokens: 2, delete_line: 2, duplicate_line: 1, swap_lines: 1,
    bad_number: 4, wrong_element_type: 3, wrong_shape: 4, mutate_attribute: 6, mutate_target: 4, corrupt_resource: 4,
}


def mutate(rng: random.Random, text: str) -> tuple[str, list[str]]:
    """``text`` after one mutation, sometimes two; and the names of the mutations applied."""
    applied: list[str] = []
    for _ in range(2 if rng.random() < 0.25 else 1):
        for _attempt in range(20):
            mutation = rng.choices(list(MUTATIONS), weights=list(MUTATIONS.values()))[0]
            mutated = mutation(rng, text)
            if mutated is not None and mutated != text:
                text = mutated
                applied.append(mutation.__name__)
                break
    return text, applied


# --- pass arguments ----------------------------------------------------------------------------------

UPSTREAM_PASSES = ["canonicalize", "cse", "inline", "symbol-dce", "convert-linalg-to-loops", "lower-affine",
                   "one-shot-bufferize{bufferize-function-boundaries}", "convert-scf-to-cf"]
OPTION_VALUES = ["", "0", "-3", "1", "64", "4096", "99999999999999999999", "nan", "8x4", "1x1", "0x4", "8x", "x",
                 "8x4,4x4", "auto", "always", "never", "false", "host", "host-avx512", "aarch64-neon", "desktop",
                 "adreno-6xx+fp16", "mali-valhall+fp16-math", "pentium", "'", '"']
# What the producers make of a seed is fuzzed too: IR only a pass writes (resource blobs, schedules, kernels).
PRODUCERS = [("--sparse3d-from-linalg=group-shape=1x1",), ("--sparse3d-from-linalg",),
             ("--sparse3d-from-linalg", "--sparse3d-compact", "--sparse3d-tile=default-target=host"),
             ("--sparse3d-from-linalg", "--sparse3d-gpu-tile=default-target=desktop"),
             ("--kgs-lower",), ("--ungroup-convolution",), ("--fold-constant-transpose",)]


def parse_pass_list(listing: str) -> dict[str, list[str]]:
    """``rt3d-opt --list-passes`` as pass or pipeline name -> its option names."""
    table: dict[str, list[str]] = {}
    for line in listing.splitlines():
        named = re.match(r"  --(\S+)", line)
        option = re.match(r"      ([\w-]+)=", line)
        if named:
            table[named[1]] = []
        elif option and table:
            table[list(table)[-1]].append(option[1])
    return table


def random_pass(rng: random.Random, passes: dict[str, list[str]]) -> tuple[str, str]:
    """A pass as (name, options), options as ``key=value ...``."""
    if rng.random() < 0.15:
        return rng.choice(UPSTREAM_PASSES), ""
    name = rng.choice(list(passes))
    options = [f"{key}={rng.choice(OPTION_VALUES)}" for key in passes[name] if rng.random() < 0.3]
    return name, " ".join(options)


def random_arguments(rng: random.Random, seed_runs: tuple[tuple[str, ...], ...], passes: dict[str, list[str]]) -> list[str]:
    """The seed's RUN-line arguments half the time, else one to three passes drawn from the list, as flags or -p."""
    if seed_runs and rng.random() < 0.5:
        arguments = list(rng.choice(seed_runs))
        if "--verify-diagnostics" in arguments and rng.random() < 0.5:
            arguments.remove("--verify-diagnostics")
        return arguments
    drawn = [random_pass(rng, passes) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    if rng.random() < 0.25:
        return ["-p", "builtin.module(" + ", ".join(f"{n}{{{o}}}" if o else n for n, o in drawn) + ")"]
    return [f"--{n}={o}" if o else f"--{n}" for n, o in drawn]


# --- running -----------------------------------------------------------------------------------------


@dataclass
class Result:
    status: int | None  # None: no exit status (timed out, or killed by a signal)
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    signal: int | None = None
    output: str | None = None  # the -o file after the run; None: absent
    leftovers: list[str] = field(default_factory=list)  # other new files next to it


class Worker:
    """The long-lived rt3d-opt process (rt3d_opt_worker.py); replaced after a crash or a timeout."""

    def __init__(self, scratch: Path, env: dict[str, str]) -> None:
        self.scratch, self.env = scratch, env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=self.env, text=True)
        if self._reply(TIMEOUT_S + 60) is None:  # {"ready": pid}
            raise RuntimeError("the rt3d-opt worker did not start")

    def _reply(self, timeout: float) -> dict | None:
        """The worker's next reply; None when it ran past ``timeout`` or died (then it has exited)."""
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.process.stdout.readline()
        if not line:  # end of file: the worker is exiting
            self.process.wait()
            return None
        return json.loads(line)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def run(self, argv: list[str], timeout: float = TIMEOUT_S) -> Result:
        if self.process is None:
            self.start()
        out, err = self.scratch / "stdout", self.scratch / "stderr"
        try:
            self.process.stdin.write(json.dumps({"argv": argv, "stdout": str(out), "stderr": str(err)}) + "\n")
            self.process.stdin.flush()
            reply = self._reply(timeout)
        except BrokenPipeError:
            reply = None
        captured = {"stdout": out.read_text(errors="replace") if out.exists() else "",
                    "stderr": err.read_text(errors="replace") if err.exists() else ""}
        if reply is not None:
            return Result(reply["status"], **captured)
        code = self.process.poll()
        self.stop()
        if code is None:
            return Result(None, **captured, timed_out=True)
        # a worker that exits with a status of its own has broken the protocol: report that status
        return Result(None if code < 0 else code, **captured, signal=-code if code < 0 else None)


def run_cli(argv: list[str], env: dict[str, str], timeout: float = TIMEOUT_S) -> Result:
    """The same run through the real console script, in its own process."""
    try:
        done = subprocess.run([str(CLI), *argv], capture_output=True, text=True, env=env, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Result(None, timed_out=True)
    if done.returncode < 0:
        return Result(None, done.stdout, done.stderr, signal=-done.returncode)
    return Result(done.returncode, done.stdout, done.stderr)


@dataclass
class Mutant:
    seed: str
    mutations: list[str]
    text: str
    arguments: list[str]
    previous_output: str | None  # what -o holds before the run; None: absent

    def describe(self) -> str:
        return f"{self.seed} [{', '.join(self.mutations) or 'unmutated'}] {shlex.join(self.arguments)}"


PREVIOUS_OUTPUT = "// the output of an earlier run\n"


def run_mutant(runner: Callable[[list[str]], Result], mutant: Mutant, folder: Path) -> tuple[Result, Path, Path]:
    """Runs ``mutant`` in an empty ``folder`` with ``-o folder/out.mlir``; the result says what the folder holds after."""
    for stale in folder.iterdir():
        stale.unlink()
    source, output = folder / "input.mlir", folder / "out.mlir"
    source.write_text(mutant.text)
    if mutant.previous_output is not None:
        output.write_text(mutant.previous_output)
    result = runner([str(source), *mutant.arguments, "-o", str(output)])
    result.output = output.read_text(errors="replace") if output.exists() else None
    result.leftovers = sorted(p.name for p in folder.iterdir() if p not in (source, output))
    return result, source, output


DIAGNOSTIC = re.compile(r"^(.*?):? (error|warning|remark|note): ", re.MULTILINE)


def check(mutant: Mutant, result: Result, source: Path) -> list[str]:
    """What breaks the command-line contract in this run (see the module docstring); empty when nothing does."""
    if result.timed_out:
        return [f"hang: no exit within {TIMEOUT_S:g} s"]
    if result.signal is not None:
        return [f"crash: killed by signal {signal.Signals(result.signal).name}"]
    problems = []
    text = result.stdout + result.stderr
    if result.status not in (0, 1):
        problems.append(f"exit status {result.status}")
    if "Traceback" in text:
        problems.append("a Python traceback")
    if re.search(r"internal (\w+ )?error", text):  # "internal verifier error" too
        problems.append("an internal error")
    if result.stdout:
        problems.append("output on stdout despite -o")
    line_count = mutant.text.count("\n") + 1
    located = re.compile(rf"{re.escape(str(source))}:(\d+):(\d+)")
    for match in DIAGNOSTIC.finditer(result.stderr):
        where = located.fullmatch(match[1])
        if match[1] != "rt3d-opt" and (where is None or not 1 <= int(where[1]) <= line_count):
            problems.append(f"a diagnostic not at file:line:col of the input: {match[0]!r}")
    if result.status == 1 and not re.search(r"^\S+: error: ", result.stderr, re.MULTILINE):
        problems.append("exit status 1 without an error")
    if result.status == 0 and (result.output is None or result.output == mutant.previous_output):
        problems.append("exit status 0 without writing -o")
    if result.status != 0 and result.output != mutant.previous_output:
        problems.append("-o " + ("left behind" if mutant.previous_output is None else "changed") + " by a failed run")
    if result.leftovers:
        problems.append(f"files left next to -o: {result.leftovers}")
    return problems


# --- the campaign ------------------------------------------------------------------------------------


@dataclass
class Campaign:
    worker: Worker
    seeds: list[Seed]
    passes: dict[str, list[str]]
    folder: Path
    produced: dict[tuple[str, tuple[str, ...]], str | None] = field(default_factory=dict)
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)

    def _produce(self, seed: Seed, producer: tuple[str, ...]) -> str | None:
        """What ``producer`` makes of the seed (cached), or None when it fails on it or changes nothing."""
        key = (seed.name, producer)
        if key not in self.produced:
            unmutated = Mutant(seed.name, [], seed.text, list(producer), None)
            result, _, _ = run_mutant(self.worker.run, unmutated, self.folder)
            produced = result.output if result.status == 0 else None
            self.produced[key] = produced if produced and produced.strip() != seed.text.strip() else None
        return self.produced[key]

    def make_mutant(self, rng: random.Random) -> Mutant:
        seed = rng.choice(self.seeds)
        name, text, runs = seed.name, seed.text, seed.runs
        if rng.random() < 0.3:
            producer = rng.choice(PRODUCERS)
            produced = self._produce(seed, producer)
            if produced is not None:
                name, text, runs = f"{seed.name} after {' '.join(producer)}", produced, ()
        mutated, applied = mutate(rng, text)
        previous = PREVIOUS_OUTPUT if rng.random() < 0.3 else None
        return Mutant(name, applied, mutated, random_arguments(rng, runs, self.passes), previous)

    def run(self, seed: int | str, count: int, keep: Path) -> None:
        for index in range(count):
            mutant = self.make_mutant(random.Random(f"{seed}/{index}"))
            result, _, _ = run_mutant(self.worker.run, mutant, self.folder)
            problems = check(mutant, result, self.folder / "input.mlir")
            self.outcomes["failure" if problems else {0: "exit 0", 1: "exit 1"}[result.status]] += 1
            if problems:
                kept = keep / f"mutant-{index}.mlir"
                kept.write_text(mutant.text)
                tail = "\n    ".join((result.stdout + result.stderr).strip().splitlines()[-6:])
                self.failures.append(f"mutant {index} ({mutant.describe()}): {'; '.join(problems)}\n"
                                     f"  rt3d-opt {kept} {shlex.join(mutant.arguments)} -o out.mlir\n    {tail}")


# --- tests -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> dict[str, str]:
    # internal errors' reproducers go to a scratch cache, not the user's
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache")), "RT3D_DEBUG": ""}


@pytest.fixture(scope="module")
def worker(tmp_path_factory, environment) -> Worker:
    worker = Worker(tmp_path_factory.mktemp("worker"), environment)
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def pass_table(worker) -> dict[str, list[str]]:
    listing = worker.run(["--list-passes"])
    assert listing.status == 0
    return parse_pass_list(listing.stdout)


def _campaign(worker: Worker, passes: dict[str, list[str]], folder: Path) -> Campaign:
    folder.mkdir(exist_ok=True)
    return Campaign(worker, load_seeds(), passes, folder)


def test_mutants_never_crash_hang_or_half_write(worker, pass_table, tmp_path):
    seed = os.environ.get("RT3D_FUZZ_SEED", "0")
    if seed == "random":
        seed = str(random.SystemRandom().randrange(2**32))
    keep = Path(os.environ.get("RT3D_FUZZ_FAILURES") or tmp_path / "failures")
    keep.mkdir(parents=True, exist_ok=True)
    campaign = _campaign(worker, pass_table, tmp_path / "run")
    campaign.run(seed, MUTANTS, keep)
    (keep / "failures.txt").write_text("\n".join(campaign.failures))
    print(f"\nrt3d-opt fuzzing, seed {seed}: {MUTANTS} mutants, " + ", ".join(f"{k}: {v}" for k, v in sorted(campaign.outcomes.items())))
    assert not campaign.failures, f"{len(campaign.failures)} of {MUTANTS} mutants (seed {seed}):\n" + "\n".join(campaign.failures[:20])
    # a fuzzer whose mutants all fail to parse, or all pass, would test little
    assert campaign.outcomes["exit 0"] > MUTANTS // 20 and campaign.outcomes["exit 1"] > MUTANTS // 20


def test_the_worker_answers_like_the_cli(worker, pass_table, environment, tmp_path):
    campaign = _campaign(worker, pass_table, tmp_path / "worker")
    (tmp_path / "cli").mkdir()
    compared = set()
    for index in range(200):
        mutant = campaign.make_mutant(random.Random(f"cli/{index}"))
        in_worker, source, _ = run_mutant(worker.run, mutant, tmp_path / "worker")
        if in_worker.status in compared:
            continue
        from_cli, cli_source, _ = run_mutant(lambda argv: run_cli(argv, environment), mutant, tmp_path / "cli")
        assert from_cli.status == in_worker.status, mutant.describe()
        for name in ("stdout", "stderr", "output"):
            # byte for byte: a run's output does not depend on what the worker ran before
            assert getattr(from_cli, name).replace(str(cli_source), str(source)) == getattr(in_worker, name), (
                f"{name} of {mutant.describe()}")
        assert from_cli.leftovers == in_worker.leftovers
        compared.add(in_worker.status)
        if compared == {0, 1}:
            return
    pytest.fail(f"no mutant of each outcome among 200: {compared}")


def _result(**fields) -> Result:
    return Result(**{"status": 1, "stderr": "SOURCE:1:1: error: bad\n", **fields})


@pytest.mark.parametrize(
    "result, previous, problem",
    [
        (_result(timed_out=True, status=None), None, "hang"),
        (_result(signal=11, status=None), None, "crash: killed by signal SIGSEGV"),
        (_result(status=2), None, "exit status 2"),
        (_result(stderr="Traceback (most recent call last):\nSOURCE:1:1: error: x\n"), None, "traceback"),
        (_result(stderr="rt3d-opt: internal error: KeyError: 'x'\n"), None, "internal error"),
        (_result(stderr="<unknown>: error: x\n"), None, "not at file:line:col"),
        (_result(stderr="SOURCE:1: error: x\n"), None, "not at file:line:col"),
        (_result(stderr="SOURCE:9:1: error: x\n"), None, "not at file:line:col"),
        (_result(stderr="", status=1), None, "exit status 1 without an error"),
        (_result(output="half"), None, "-o left behind"),
        (_result(output="half"), PREVIOUS_OUTPUT, "-o changed"),
        (_result(leftovers=[".rt3d-x.tmp"]), None, "files left next to -o"),
        (_result(status=0, stderr="", output=None), None, "without writing -o"),
        (_result(status=0, stderr="", output="ir", stdout="ir"), None, "stdout"),
    ],
)
def test_the_checks_catch_each_breach(result, previous, problem):
    source = Path("SOURCE")
    mutant = Mutant("seed", [], "line 1\nline 2\n", [], previous)
    assert any(problem in found for found in check(mutant, result, source))
    assert check(mutant, _result(output=previous), source) == []


def test_a_crash_is_caught_and_the_worker_replaced(worker, tmp_path):
    good = [str(TEST_ROOT / "rt3d-opt" / "Inputs" / "add-zero.mlir"), "--canonicalize", "-o", str(tmp_path / "out.mlir")]
    assert worker.run(good).status == 0
    os.kill(worker.process.pid, signal.SIGSEGV)
    worker.process.wait()
    crashed = worker.run(good)
    assert crashed.status is None and crashed.signal == signal.SIGSEGV
    assert worker.run(good).status == 0


def test_a_hang_is_a_timeout_and_the_worker_replaced(worker, tmp_path):
    slow = [str(TEST_ROOT / "Passes" / "kgs-lower.mlir"), "--kgs-to-llvm", "-o", str(tmp_path / "out.mlir")]
    hung = worker.run(slow, timeout=0.001)
    assert hung.timed_out and hung.status is None
    assert worker.run(slow).status == 0


def test_mutations_are_deterministic_and_change_the_text():
    seeds = load_seeds()
    assert len(seeds) > 50 and any(seed.runs for seed in seeds)
    for index in range(50):
        text = random.Random(index).choice(seeds).text
        first, second = mutate(random.Random(f"m/{index}"), text), mutate(random.Random(f"m/{index}"), text)
        assert first == second and first[0] != text and first[1]


def test_corrupted_resources_and_targets_are_made():
    text = ("func.func @f() -> tensor<2xf32> {\n  %0 = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>\n"
            "  return %0 : tensor<2xf32>\n}\n")
    rng = random.Random(1)
    blobs = {corrupt_resource(rng, text) for _ in range(100)}
    assert any('fuzz_blob: "0x040000000000803F00000040"' in b for b in blobs)  # valid, then corrupted ones
    assert any('fuzz_blob: "0x040000000000803F0000004"\n' in b for b in blobs)
    targets = [mutate_target(rng, text) for _ in range(40)]
    assert all(t.startswith("module attributes {sparse3d.") for t in targets)
    assert any(CPU_TARGET not in t and GPU_TARGET not in t for t in targets)
