"""The base of our Python passes: options are dataclass fields, the pass runs on the module.

A pass is written as::

    @dataclass(frozen=True)
    class MyPass(ModulePass):
        name = "my-pass"
        summary = "One line for --help"
        threshold: int = option(4, "what the option does")

        def apply(self, module: ir.Operation) -> None: ...

and used as ``my-pass{threshold=8}`` in a pipeline or ``--my-pass=threshold=8``
on the ``rt3d-opt`` command line. The annotation says how a value is parsed and
checked: ``bool``, ``int``, ``float``, ``str``, a type in :data:`VALUE_SYNTAX`
(``GroupShape``: ``8x4``), ``Literal["a", "b"]`` (one of those words),
``tuple[int, ...]`` (comma-separated items), ``X | None`` (the empty value, or the
option's ``unset`` word, is None).
"""

from __future__ import annotations

import dataclasses
import shlex
from abc import ABC, abstractmethod
from types import UnionType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints
from collections.abc import Callable

from torch_mlir import ir

from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.errors import UserError
from rt3d_mlir.groups import GroupShape

if TYPE_CHECKING:
    from rt3d_mlir.targets import Target


def option(default: Any, help: str, unset: str = "") -> Any:
    """Declares a pass option: a dataclass field with a default and a one-line help text.

    ``unset`` is how an ``X | None`` option is set to None on the command line (the empty value unless
    given, e.g. ``auto``).
    """
    return dataclasses.field(default=default, metadata={"help": help, "unset": unset})


# Option value types beyond bool, int, float and str: each parses with its ``parse(text)`` and prints
# with ``str()``, which round-trip; the text is its syntax in --list-passes.
VALUE_SYNTAX: dict[type, str] = {GroupShape: "NxM"}
_TRUE, _FALSE = ("1", "true", "on", "yes", ""), ("0", "false", "off", "no")


def _optional_of(kind: Any) -> Any | None:
    """X for an ``X | None`` annotation, None for any other."""
    if get_origin(kind) not in (Union, UnionType) or type(None) not in get_args(kind):
        return None
    (inner,) = (arg for arg in get_args(kind) if arg is not type(None))
    return inner


def _syntax(kind: Any, unset: str) -> str:
    """How --list-passes and the docs name a value type: ``int``, ``auto|always|never``, ``list of NxM``, ``str or unset``."""
    inner = _optional_of(kind)
    if inner is not None:
        return f"{_syntax(inner, unset)} or {unset or 'unset'}"
    if get_origin(kind) is Literal:
        return "|".join(get_args(kind))
    if get_origin(kind) is tuple:
        return f"list of {_syntax(get_args(kind)[0], unset)}"
    return VALUE_SYNTAX.get(kind, getattr(kind, "__name__", str(kind)))


def _parse(text: str, kind: Any, unset: str) -> Any:
    """``text`` as a value of annotation ``kind``; ValueError (or a parser's UserError) when it is not one."""
    inner = _optional_of(kind)
    if inner is not None:
        return None if text == unset else _parse(text, inner, unset)
    if get_origin(kind) is Literal:
        if text not in get_args(kind):
            raise ValueError
        return text
    if get_origin(kind) is tuple:
        # items cannot contain commas; empty items (as in "8x4,") are dropped, so "" is the empty list
        return tuple(_parse(item.strip(), get_args(kind)[0], unset) for item in text.split(",") if item.strip())
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError
    if kind in VALUE_SYNTAX:
        return kind.parse(text)
    if kind in (int, float, str):
        return kind(text)
    raise TypeError(f"pass options cannot have type {kind}")


def _format(value: Any, unset: str) -> str:
    """An option value as text that :func:`_parse` reads back as ``value``."""
    if value is None:
        return unset
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(_format(item, unset) for item in value)
    return str(value)


@dataclasses.dataclass(frozen=True)
class OptionInfo:
    """One pass option as --list-passes and docs/passes.md show it."""

    key: str  # as written in a pipeline: ``group-shape``
    syntax: str  # ``NxM or auto``
    default: str  # as written in a pipeline: ``auto``
    help: str


@dataclasses.dataclass(frozen=True)
class ModulePass(ABC):
    """A pass over a whole ``builtin.module`` (our passes walk nested ops themselves)."""

    name: ClassVar[str]
    summary: ClassVar[str]

    @abstractmethod
    def apply(self, module: ir.Operation) -> None:
        """Transforms ``module`` in place; raises PassError for input it cannot handle."""

    @classmethod
    def options(cls) -> list[dataclasses.Field]:
        return list(dataclasses.fields(cls))

    @classmethod
    def option_infos(cls) -> list[OptionInfo]:
        hints = get_type_hints(cls)
        return [
            OptionInfo(
                _key(field),
                _syntax(hints[field.name], field.metadata["unset"]),
                _format(field.default, field.metadata["unset"]),
                field.metadata["help"],
            )
            for field in cls.options()
        ]

    @classmethod
    def from_options(cls, text: str) -> ModulePass:
        """Builds the pass from ``key=value`` pairs separated by spaces (MLIR's pass-option syntax)."""
        hints = get_type_hints(cls)
        fields = {_key(f): f for f in cls.options()}
        values: dict[str, Any] = {}
        try:
            pairs = shlex.split(text)
        except ValueError as error:
            raise UserError(f"pass '{cls.name}': cannot parse options '{text}': {error}") from None
        for pair in pairs:
            key, _, value = pair.partition("=")
            if key not in fields:
                known = ", ".join(fields) or "none"
                raise UserError(f"pass '{cls.name}' has no option '{key}' (its options: {known})")
            field = fields[key]
            kind, unset = hints[field.name], field.metadata["unset"]
            try:
                values[field.name] = _parse(value, kind, unset)
            except ValueError:
                choices = get_args(kind) if get_origin(kind) is Literal else ()
                expected = f"one of {', '.join(choices)}" if choices else _syntax(kind, unset)
                raise UserError(f"pass '{cls.name}': option '{key}' takes {expected}, got '{value}'") from None
            except UserError as error:  # a value type's own parser says what is wrong
                raise UserError(f"pass '{cls.name}': option '{key}': {error}") from None
        return cls(**values)

    def pipeline_text(self) -> str:
        """The pass as a pipeline element, with every non-default option: ``name{key=value}``."""
        pairs = [
            f"{_key(f)}={shlex.quote(_format(getattr(self, f.name), f.metadata['unset']))}"
            for f in self.options()
            if getattr(self, f.name) != f.default
        ]
        return f"{self.name}{{{' '.join(pairs)}}}" if pairs else self.name


def _key(field: dataclasses.Field) -> str:
    return field.name.replace("_", "-")


@dataclasses.dataclass(frozen=True)
class TargetOptions:
    """How a pass's ``target`` / ``default-target`` options reach a kind of module target (CPU or GPU)."""

    attr: str  # the module attribute that holds the target
    resolve: Callable[[str], Any]  # a target name -> the target (UserError for an unknown one)
    record: Callable[[ir.Operation, Any], None]  # writes a target as the module attribute
    read: Callable[[ir.Operation], Any]  # the module attribute -> the target (UserError when missing)

    def check(self, pass_name: str, *names: str | None) -> None:
        """Resolves every given name now, so that an unknown target is an option error."""
        for name in filter(None, names):
            try:
                self.resolve(name)
            except UserError as error:
                raise UserError(f"pass '{pass_name}': {error}") from None

    def module_target(self, module: ir.Operation, target: str | None, default_target: str | None) -> Any:
        """Records ``target`` (or ``default_target`` when the module has none) on the module and returns its target."""
        if target:
            self.record(module, self.resolve(target))
        elif default_target and self.attr not in module.attributes:
            self.record(module, self.resolve(default_target))
        try:
            return self.read(module)
        except UserError as error:
            raise PassError(str(error), module.location) from None


def target_or_host(module: ir.Operation) -> Target:
    """The module's ``sparse3d.target``, or the host's when it has none; a malformed one is a pass error at the module."""
    from rt3d_mlir.targets import TARGET_ATTR, host_target, module_target

    try:
        return module_target(module) if TARGET_ATTR in module.attributes else host_target()
    except UserError as error:
        raise PassError(str(error), module.location) from None
