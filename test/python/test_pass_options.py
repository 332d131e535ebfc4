"""Typed pass options: parsed and checked by passes/base.py, round-tripped, listed, and documented."""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from rt3d_mlir import passes
from rt3d_mlir.pipelines import PIPELINES
from rt3d_mlir.codegen.filter_order import MODES
from rt3d_mlir.errors import UserError
from rt3d_mlir.groups import GroupShape
from rt3d_mlir.passes.base import ModulePass, option
from rt3d_mlir.passes.sparse3d_compact import Sparse3DCompact
from rt3d_mlir.passes.sparse3d_from_linalg import Sparse3DFromLinalg
from rt3d_mlir.pipeline import parse_element
from rt3d_mlir.tools import pass_docs, rt3d_opt

DOCS = Path(__file__).parents[2] / "docs" / "passes.md"


@dataclass(frozen=True)
class EveryKind(ModulePass):
    name = "every-kind"
    summary = "A pass with an option of each kind the framework parses"

    flag: bool = option(False, "a bool")
    count: int = option(1, "an int")
    ratio: float = option(0.5, "a float")
    label: str = option("x", "a str")
    mode: Literal["fast", "slow"] = option("fast", "a choice")
    sizes: tuple[int, ...] = option((1, 2), "ints")
    words: tuple[str, ...] = option((), "strs")
    limit: int | None = option(None, "an int or unset")
    cap: int | None = option(8, "an int, unset when empty")
    shape: GroupShape = option(GroupShape(8, 4), "a group shape")
    chosen: GroupShape | None = option(None, "a group shape or auto", unset="auto")

    def apply(self, module) -> None:
        raise AssertionError("never run")


@pytest.mark.parametrize(
    "text, field, value",
    [
        ("flag", "flag", True),
        ("flag=off", "flag", False),
        ("count=-7", "count", -7),
        ("ratio=1e-3", "ratio", 0.001),
        ("label='two words'", "label", "two words"),
        ("mode=slow", "mode", "slow"),
        ("sizes=3,4,5", "sizes", (3, 4, 5)),
        ("sizes=", "sizes", ()),
        ("words=a,b,", "words", ("a", "b")),
        ("limit=12", "limit", 12),
        ("limit=", "limit", None),
        ("cap=''", "cap", None),
        ("shape=4x2", "shape", GroupShape(4, 2)),
        ("chosen=1x1", "chosen", GroupShape(1, 1)),
        ("chosen=auto", "chosen", None),
    ],
)
def test_values_parse_by_their_annotation(text, field, value):
    assert getattr(EveryKind.from_options(text), field) == value


@pytest.mark.parametrize(
    "text, message",
    [
        ("flag=maybe", "pass 'every-kind': option 'flag' takes bool, got 'maybe'"),
        ("count=1.5", "pass 'every-kind': option 'count' takes int, got '1.5'"),
        ("ratio=half", "pass 'every-kind': option 'ratio' takes float, got 'half'"),
        ("mode=medium", "pass 'every-kind': option 'mode' takes one of fast, slow, got 'medium'"),
        ("sizes=1,two", "pass 'every-kind': option 'sizes' takes list of int, got '1,two'"),
        ("limit=none", "pass 'every-kind': option 'limit' takes int or unset, got 'none'"),
        ("shape=8", "pass 'every-kind': option 'shape': group shape must look like 8x4 (filters x channels), got '8'"),
        ("chosen=", "pass 'every-kind': option 'chosen': group shape must look like 8x4 (filters x channels), got ''"),
        ("shape=0x4", "pass 'every-kind': option 'shape': group shape must be positive, got 0x4"),
    ],
)
def test_a_bad_value_names_the_pass_option_type_and_value(text, message):
    with pytest.raises(UserError) as error:
        EveryKind.from_options(text)
    assert str(error.value) == message


def test_the_option_types_are_listed_by_name():
    listed = {info.key: (info.syntax, info.default) for info in EveryKind.option_infos()}
    assert listed == {
        "flag": ("bool", "false"), "count": ("int", "1"), "ratio": ("float", "0.5"), "label": ("str", "x"),
        "mode": ("fast|slow", "fast"), "sizes": ("list of int", "1,2"), "words": ("list of str", ""),
        "limit": ("int or unset", ""), "cap": ("int or unset", "8"), "shape": ("NxM", "8x4"), "chosen": ("NxM or auto", "auto"),
    }


def test_every_kind_round_trips_through_its_pipeline_text():
    changed = EveryKind(flag=True, count=0, ratio=0.1, label="a b", mode="slow", sizes=(), words=("x", "y"), limit=3, cap=None,
                        shape=GroupShape(1, 1), chosen=GroupShape(4, 4))
    text = changed.pipeline_text()
    assert EveryKind.from_options(text[len("every-kind{"):-1]) == changed


def test_the_passes_use_typed_values():
    assert Sparse3DFromLinalg.from_options("group-shape=auto") == Sparse3DFromLinalg()
    assert Sparse3DFromLinalg.from_options("candidates=4x4,8x8").candidates == (GroupShape(4, 4), GroupShape(8, 8))
    assert Sparse3DFromLinalg.from_options("group-shape=8x8").shape_choices() == [GroupShape(8, 8)]
    assert passes.pass_class("sparse3d-tile").from_options("target= tuning-cache=").target is None
    assert passes.pass_class("parallel-loops-to-gpu-grid").from_options("").workgroup_size is None
    # the compact pass's modes are the ones filter_order knows
    assert typing.get_args(typing.get_type_hints(Sparse3DCompact)["reorder"]) == MODES


@pytest.mark.parametrize(
    "pass_name, text, message",
    [
        ("sparse3d-compact", "reorder=sometimes",
         "pass 'sparse3d-compact': option 'reorder' takes one of auto, always, never, got 'sometimes'"),
        ("sparse3d-from-linalg", "candidates=", "pass 'sparse3d-from-linalg': option 'candidates' lists no group shape"),
        ("parallel-loops-to-gpu-grid", "workgroup-size=0",
         "pass 'parallel-loops-to-gpu-grid': option 'workgroup-size' must be at least 1 (unset: from the GPU target), got 0"),
    ],
)
def test_checks_beyond_the_type_stay_in_the_pass(pass_name, text, message):
    with pytest.raises(UserError) as error:
        passes.pass_class(pass_name).from_options(text)
    assert str(error.value) == message


# a value other than the default for every option of every pass (a new option needs one here)
NON_DEFAULT = {
    "parallel-loops-to-gpu-grid": "workgroup-size=128",
    "sparse3d-choose-algorithm": "target=host-avx2 default-target=aarch64-neon allow=direct tuning-cache=c.json",
    "sparse3d-compact": "reorder=never narrow=false",
    "sparse3d-from-linalg": "group-shape=4x4 candidates=8x8,1x1",
    "sparse3d-gpu-tile": "target=mali-valhall+fp16 default-target=desktop",
    "sparse3d-tile": "target=host-avx2 default-target=aarch64-neon tuning-cache='a cache.json'",
}


@pytest.mark.parametrize("name", passes.pass_names())
def test_every_pass_round_trips_with_non_default_options(name):
    pass_type = passes.pass_class(name)
    configured = pass_type.from_options(NON_DEFAULT.get(name, ""))
    assert all(getattr(configured, f.name) != f.default for f in dataclasses.fields(pass_type))
    assert parse_element(configured.pipeline_text()) == [configured]


def test_list_passes_shows_each_options_default_type_and_help(capsys):
    assert rt3d_opt.main(["--list-passes"]) == 0
    listing = capsys.readouterr().out
    for line in (
        r"  --sparse3d-compact .*\n      reorder=auto +auto\|always\|never +regroup filters: auto",
        r"      narrow=true +bool +store group_offsets",
        r"      group-shape=auto +NxM or auto +kernel group as FILTERSxCHANNELS",
        r"      candidates=8x4,8x8,4x4 +list of NxM +group shapes auto chooses among",
        r"      tuning-cache= +str or unset +a tuning cache",
        r"      workgroup-size= +int or unset +threads per workgroup",
    ):
        assert re.search(f"^{line}", listing, re.MULTILINE), line


def test_docs_passes_md_is_current():
    assert DOCS.read_text() == pass_docs.render(), (
        f"docs/passes.md is stale: regenerate it with `./dev.sh run {pass_docs.COMMAND}`"
    )


def test_docs_list_every_pass_option_and_pipeline():
    text = pass_docs.render()
    for name in passes.pass_names():
        assert f"### `{name}`" in text
        for info in passes.pass_class(name).option_infos():
            assert f"- `{info.key}={info.default}` (`{info.syntax}`)" in text
    assert all(f"### `{name}`" in text for name in PIPELINES)


def test_docstrings_become_markdown():
    text = pass_docs.docstring_markdown(
        "``a-pass``: see :func:`~x.y.pick` and :mod:`x.y`; N*C.\n\n- a list item::\n\n    %0 = op\n      %1 = op\n\nAfter.\n"
    )
    assert text == "`a-pass`: see `pick` and `x.y`; N\\*C.\n\n- a list item:\n\n  ```\n  %0 = op\n    %1 = op\n  ```\n\nAfter.\n"
