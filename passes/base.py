"""The base of our Python passes: options are dataclass fields, the pass runs on the module.

A pass is written as::

    @dataclass(frozen=True)
    class MyPass(ModulePass):
        name = "my-pass"
        summary = "One line for --help"
        threshold: int = option(4, "what the option does")

        def apply(self, module: ir.Operation) -> None: ...

and used as ``my-pass{threshold=8}`` in a pipeline or ``--my-pass=threshold=8``
on the ``rt3d-opt`` command line.
"""

from __future__ import annotations

import dataclasses
import shlex
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, ClassVar, get_type_hints

from torch_mlir import ir

from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.errors import UserError

if TYPE_CHECKING:
    from rt3d_mlir.targets import Target


def option(default: Any, help: str) -> Any:
    """Declares a pass option: a dataclass field with a default and a one-line help text."""
    return dataclasses.field(default=default, metadata={"help": help})


def _parse_value(text: str, kind: type, pass_name: str, key: str) -> Any:
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "on", "yes", ""):
                return True
            if text.lower() in ("0", "false", "off", "no"):
                return False
            raise ValueError
        return kind(text)
    except ValueError:
        raise UserError(f"pass '{pass_name}': option '{key}' takes a {kind.__name__}, got '{text}'") from None


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
    def from_options(cls, text: str) -> "ModulePass":
        """Builds the pass from ``key=value`` pairs separated by spaces (MLIR's pass-option syntax)."""
        hints = get_type_hints(cls)
        fields = {f.name.replace("_", "-"): f for f in cls.options()}
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
            values[fields[key].name] = _parse_value(value, hints[fields[key].name], cls.name, key)
        return cls(**values)

    def pipeline_text(self) -> str:
        """The pass as a pipeline element, with every non-default option: ``name{key=value}``."""
        pairs = [
            f"{f.name.replace('_', '-')}={shlex.quote(str(getattr(self, f.name)))}"
            for f in self.options()
            if getattr(self, f.name) != f.default
        ]
        return f"{self.name}{{{' '.join(pairs)}}}" if pairs else self.name


@dataclasses.dataclass(frozen=True)
class TargetOptions:
    """How a pass's ``target`` / ``default-target`` options reach a kind of module target (CPU or GPU)."""

    attr: str  # the module attribute that holds the target
    resolve: Callable[[str], Any]  # a target name -> the target (UserError for an unknown one)
    record: Callable[[ir.Operation, Any], None]  # writes a target as the module attribute
    read: Callable[[ir.Operation], Any]  # the module attribute -> the target (UserError when missing)

    def check(self, pass_name: str, *names: str) -> None:
        """Resolves every non-empty name now, so that an unknown target is an option error."""
        for name in filter(None, names):
            try:
                self.resolve(name)
            except UserError as error:
                raise UserError(f"pass '{pass_name}': {error}") from None

    def module_target(self, module: ir.Operation, target: str, default_target: str) -> Any:
        """Records ``target`` (or ``default_target`` when the module has none) on the module and returns its target."""
        if target:
            self.record(module, self.resolve(target))
        elif default_target and self.attr not in module.attributes:
            self.record(module, self.resolve(default_target))
        try:
            return self.read(module)
        except UserError as error:
            raise PassError(str(error), module.location) from None


def target_or_host(module: ir.Operation) -> "Target":
    """The module's ``sparse3d.target``, or the host's when it has none; a malformed one is a pass error at the module."""
    from rt3d_mlir.targets import TARGET_ATTR, host_target, module_target

    try:
        return module_target(module) if TARGET_ATTR in module.attributes else host_target()
    except UserError as error:
        raise PassError(str(error), module.location) from None
