"""What a back end is: the interface the compile driver (:mod:`rt3d_mlir.compiler`) and the CLIs use.

The driver runs the front half once for every target (fold batch norms, import,
``sparse3d-from-linalg``, conv reports) and hands the module to the back end that
owns the target name. A back end says

- which target names it takes (``host``, ``host-avx2``, ``vulkan-mali-valhall``, ...) and
  checks one before the slow import (:meth:`Backend.check`);
- which :class:`CompileOptions` apply to it (any other one given is an error that
  names the targets it is for);
- what it records on the module before the front step (:meth:`Backend.prepare`);
- how it finishes (:meth:`Backend.finish`): the kernel pipeline, then a JIT, objects and
  a header, or SPIR-V and a manifest;
- its ``rt3d compile`` options (:class:`CliOption`, data the CLI turns into arguments).
"""

from __future__ import annotations

import dataclasses
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from rt3d_mlir.errors import UserError

if TYPE_CHECKING:
    from torch_mlir import ir

    from rt3d_mlir.backends.host.tuning import TuningOptions
    from rt3d_mlir.report import ConvReport


@dataclass(frozen=True)
class CompileOptions:
    """Everything a compile can be told besides the model and the target; each back end uses some."""

    group_shape: str = "auto"  # kernel group for sparse3d-from-linalg: FILTERSxCHANNELS or auto (every target)
    threads: int | None = None  # host: OpenMP threads of the compiled model (None: all cores)
    tune: bool | TuningOptions = False  # host: True or TuningOptions to time schedules here first
    tuning_cache: str | os.PathLike | None = None  # host: the tuning cache to read (and write, with tune)
    direct_only: bool = False  # host: direct convolution everywhere (no Winograd, whatever the cost model says)
    prefix: str = "rt3d_model"  # aarch64: C name prefix of the artifacts
    cpu: str | None = None  # aarch64: a preset (a76, a55) or an LLVM cpu; None: the target's
    features: str | None = None  # aarch64: extra LLVM features, e.g. +dotprod
    platforms: tuple[str, ...] = ("linux-gnu", "android")  # aarch64: which objects to emit
    description: str | None = None  # aarch64: the header's description (None: "PREFIX compiled by rt3d-mlir")

    def given(self) -> list[str]:
        """The options set to something other than their default (group_shape aside: every target takes it)."""
        return [f.name for f in dataclasses.fields(self) if f.name != "group_shape" and getattr(self, f.name) != f.default]


# How an option is named in the error for a target it does not apply to.
OPTION_LABELS = {
    "threads": "a thread count",
    "tune": "tuning",
    "tuning_cache": "a tuning cache",
    "direct_only": "direct-only convolution",
    "prefix": "a C name prefix",
    "cpu": "an AArch64 cpu",
    "features": "LLVM features",
    "platforms": "platforms",
    "description": "a header description",
}


@dataclass(frozen=True)
class CliOption:
    """One ``rt3d compile`` option of a back end, as data (the CLI gives it its argparse type)."""

    flag: str  # e.g. "--threads"
    kind: Literal["thread-count", "flag", "text"]  # a number of threads, an on/off switch, free text
    help: str
    field: str | None = None  # the CompileOptions field it sets; None: the CLI uses it after the compile

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


class Backend(ABC):
    """A family of targets (``host``, ``aarch64``, ``vulkan``) and how to finish a module for them."""

    name: ClassVar[str]  # the family, also a target name itself (its default)
    summary: ClassVar[str]
    cli_targets: ClassVar[str]  # how `rt3d compile --help` and its errors name the targets, e.g. "aarch64 or aarch64-<cpu>"
    options: ClassVar[frozenset[str]] = frozenset()  # CompileOptions fields that apply
    option_notes: ClassVar[dict[str, str]] = {}  # why an option does not apply here, where a hint helps
    cli_options: ClassVar[tuple[CliOption, ...]] = ()
    runs_here: ClassVar[bool]  # the compiled model can be called in this process (checked against torch, timed)
    output: ClassVar[Literal["file", "folder"]]  # what `rt3d compile -o` names
    writes: ClassVar[str]  # what `rt3d compile -o` writes there, for its help
    stages: ClassVar[tuple[str, ...]]  # progress-bar stages after the front half

    @abstractmethod
    def target_names(self) -> tuple[str, ...]:
        """Every target name this back end takes, for help and errors (patterns such as ``vulkan-<gpu>`` allowed)."""

    def owns(self, target: str) -> bool:
        return target == self.name or target.startswith(f"{self.name}-")

    def check(self, target: str, options: CompileOptions) -> None:  # noqa: B027 (an optional hook: nothing to check by default)
        """Resolves ``target`` and the options now, so that a mistake is reported before the slow import."""

    def prepare(self, module: ir.Module, target: str, options: CompileOptions) -> None:  # noqa: B027 (an optional hook)
        """Records what the front step needs to know of the target on the module (nothing by default)."""

    @abstractmethod
    def finish(self, module: ir.Module, convs: list[ConvReport], target: str, options: CompileOptions) -> Any:
        """The compiled artifact of ``module`` after the front step; it has a ``compile_seconds`` attribute."""

    def misplaced(self, target: str, options: CompileOptions, owners: dict[str, list[Backend]]) -> str | None:
        """The error for the first given option that does not apply to ``target``, or None."""
        for name in options.given():
            if name in self.options:
                continue
            label = OPTION_LABELS[name]
            if name in self.option_notes:
                return f"{label} does not apply to '{target}': {self.option_notes[name]}"
            families = " and ".join(backend.name for backend in owners.get(name, []))
            return f"{label} applies to {families} targets only, not to '{target}'"
        return None


def describe_targets(backends: list[Backend]) -> str:
    """``host, host-avx512, ..., vulkan, vulkan-<gpu>, ...``: every target name, for help and errors."""
    return ", ".join(name for backend in backends for name in backend.target_names())


def unsupported_target(target: str, backends: list[Backend]) -> UserError:
    return UserError(f"target '{target}' is not supported by rt3d_mlir.compile; use one of {describe_targets(backends)}")
