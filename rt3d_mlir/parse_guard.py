"""Input that MLIR's parser (the torch-mlir wheel's C++) kills the process on, found in the text first.

The tools parse user text; on these few inputs MLIR crashes instead of reporting an
error, and no Python code can catch a crash. :func:`crashing_syntax` finds them so
that the tools report them as errors at their line and column, worded as MLIR words
its neighbouring errors.
"""

from __future__ import annotations

import re

# A blob's first 4 bytes are its alignment: MLIR reports one that is not a power of 2, but on 0 it
# dies ("LLVM ERROR: out of memory").
_ZERO_ALIGNED_BLOB = re.compile(r'^[ \t]*("[^"\n]*"|[\w.$-]+)[ \t]*:[ \t]*("0x00000000)', re.MULTILINE)
# The custom forms of these linalg ops store whatever parsing their integer list gave, a null
# attribute when it failed, and crash on it (SIGSEGV): "[1, ]", "[1 0]", "[1, 99999999999999999999]".
_LINALG_LIST_OP = re.compile(r'(?<!")\blinalg\.(transpose|broadcast|reduce)\b(?!")')
_LIST_KEYWORD = re.compile(r"\b(permutation|dimensions)\s*=\s*")
_INTEGER = r"\s*(?:0x[0-9A-Fa-f]+|[-+]?\d+)\s*"
_INTEGER_LIST = re.compile(rf"\[(?:{_INTEGER}(?:,{_INTEGER})*)?\]")
_I64 = range(-(2**63), 2**63)
# The custom form of linalg.generic takes each entry of its iterator_types list for a string: another
# kind of entry (1, [], #linalg.iterator_type<parallel>) is a SIGSEGV or a std::bad_alloc.
_GENERIC_OP = re.compile(r'(?<!")\blinalg\.generic\b(?!")')
_ITERATOR_TYPES = re.compile(r"\biterator_types\s*=\s*(?=\[)")
_STRING_LIST = re.compile(r'\[(?:\s*"[^"\n]*"\s*(?:,\s*"[^"\n]*"\s*)*)?\]')

# -2**63 is MLIR's marker for a dynamic entry: written in tensor.pad's low[...] / high[...] it is taken for
# one without its operand, which tensor.pad's verifier does not notice and its printer crashes on (SIGSEGV).
_PAD_OP = re.compile(r'(?<!")\btensor\.pad\b(?!")')
_PAD_LIST = re.compile(r"\b(low|high)\s*\[([^\]]*)\]")
_DYNAMIC_MARKER = re.compile(r"(?<![\w%])-0*9223372036854775808\b")


def _line_column(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def _zero_aligned_blobs(text: str) -> list[tuple[int, int, str]]:
    resources = text.find("{-#")
    if resources < 0:
        return []
    return [(*_line_column(text, blob.start(2)),
             f"expected hex string blob for key '{blob[1].strip(chr(34))}' to encode alignment in first 4 bytes, "
             "but got non-power-of-2 value: 0")
            for blob in _ZERO_ALIGNED_BLOB.finditer(text, resources)]


def _bad_linalg_lists(text: str) -> list[tuple[int, int, str]]:
    found = []
    for op in _custom_form_ops(text, _LINALG_LIST_OP):
        keyword = _LIST_KEYWORD.search(text, op.end())
        if keyword is None:
            continue  # MLIR reports a missing keyword itself
        values = _INTEGER_LIST.match(text, keyword.end())
        if values is None or any(int(v, 0) not in _I64 for v in re.findall(r"0x[0-9A-Fa-f]+|[-+]?\d+", values[0])):
            found.append((*_line_column(text, keyword.end()),
                          f"'linalg.{op[1]}' {keyword[1]} must be a list of 64-bit integers such as [1, 0]"))
    return found


def _custom_form_ops(text: str, op_name: re.Pattern) -> list[re.Match]:
    """The matches of ``op_name`` in ``text`` outside comments."""
    return [op for op in op_name.finditer(text) if "//" not in text[text.rfind("\n", 0, op.start()) + 1 : op.start()]]


def _bad_iterator_types(text: str) -> list[tuple[int, int, str]]:
    found = []
    for op in _custom_form_ops(text, _GENERIC_OP):
        iterators = _ITERATOR_TYPES.search(text, op.end())  # not a list at all: MLIR reports that itself
        if iterators is not None and _STRING_LIST.match(text, iterators.end()) is None:
            found.append((*_line_column(text, iterators.end()),
                          "'linalg.generic' iterator_types must be a list of strings such as [\"parallel\", \"reduction\"]"))
    return found


def _dynamic_pad_markers(text: str) -> list[tuple[int, int, str]]:
    found = []
    for op in _custom_form_ops(text, _PAD_OP):
        region = text.find("{", op.end())  # the lists come before the op's region
        for bounds in _PAD_LIST.finditer(text, op.end(), region if region >= 0 else len(text)):
            marker = _DYNAMIC_MARKER.search(bounds[2])
            if marker is not None:
                found.append((*_line_column(text, bounds.start(2) + marker.start()),
                              f"'tensor.pad' {bounds[1]} entries must be index values or integers above -9223372036854775808 "
                              "(MLIR's marker for a dynamic entry)"))
    return found


def crashing_syntax(text: str) -> list[tuple[int, int, str]]:
    """(line, column, error message) for each place in ``text`` that MLIR's parser would crash on."""
    return sorted(_zero_aligned_blobs(text) + _bad_linalg_lists(text) + _bad_iterator_types(text) + _dynamic_pad_markers(text))
