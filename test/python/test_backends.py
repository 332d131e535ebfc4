"""The target registry and the one compile driver: every target goes through the same front half."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import get_args

import pytest
import torch

import rt3d_mlir
from rt3d_mlir import backends, cli
from rt3d_mlir.backends.base import Backend, CliOption, CompileOptions
from rt3d_mlir.compiler import HostTarget
from rt3d_mlir.errors import UserError


@dataclass
class Listing:
    text: str
    conv_count: int
    compile_seconds: float = 0.0


class ListingBackend(Backend):
    """A toy target family: the module after the front step, as text."""

    name = "listing"
    summary = "the IR after the front step, as text"
    cli_targets = "listing"
    options = frozenset({"prefix"})
    cli_options = (CliOption("--banner", "text", "a line to print first"),)
    runs_here = False
    output = "folder"
    writes = "a folder for the listing"
    stages = ()
    prepared: list[str] = []

    def target_names(self) -> tuple[str, ...]:
        return ("listing",)

    def prepare(self, module, target, options):
        self.prepared.append(target)

    def finish(self, module, convs, target, options):
        return Listing(str(module), len(convs))


@pytest.fixture
def listing_backend(monkeypatch):
    module = types.ModuleType("listing_backend_for_tests")
    module.ListingBackend = ListingBackend
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(backends._BACKENDS, "listing", f"{module.__name__}:ListingBackend")
    backends.all_backends.cache_clear()
    yield
    backends.all_backends.cache_clear()


def conv_model() -> tuple[torch.nn.Module, torch.Tensor]:
    return torch.nn.Sequential(torch.nn.Conv3d(2, 8, 3, padding=1), torch.nn.ReLU()).eval(), torch.randn(1, 2, 2, 4, 4)


def test_a_new_target_family_is_one_module_and_one_registry_line(listing_backend) -> None:
    model, clip = conv_model()
    listing = rt3d_mlir.compile(model, clip, target="listing", prefix="toy")
    # the driver ran the shared front half: the conv is a sparse3d op, the back end saw one conv
    assert "sparse3d.kgs_conv3d" in listing.text and "linalg.conv_3d" not in listing.text
    assert listing.conv_count == 1 and ListingBackend.prepared[-1] == "listing" and listing.compile_seconds > 0
    with pytest.raises(UserError, match="a thread count applies to host targets only, not to 'listing'"):
        rt3d_mlir.compile(model, clip, target="listing", threads=2)


def test_help_and_option_checks_come_from_the_registry(listing_backend, capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["compile", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--target listing: the IR after the front step, as text" in help_text and "--banner" in help_text
    assert "listing: a folder for the listing" in help_text  # what -o writes, per back end
    assert cli.main(["compile", "c3d", "--banner", "hi"]) == 1
    assert "--banner: only for --target listing, not host" in capsys.readouterr().err


def test_every_option_belongs_to_some_back_end() -> None:
    taken = set().union(*(backend.options for backend in backends.all_backends()))
    assert set(CompileOptions().__dataclass_fields__) - {"group_shape"} == taken


def test_targets_resolve_to_their_back_ends() -> None:
    found = {target: backends.backend_for(target).name for target in ("host", "host-avx2", "aarch64-a55", "vulkan-mali-valhall+fp16")}
    assert found == {"host": "host", "host-avx2": "host", "aarch64-a55": "aarch64", "vulkan-mali-valhall+fp16": "vulkan"}
    with pytest.raises(UserError, match="target 'riscv' is not supported by rt3d_mlir.compile; use one of host, host-avx512"):
        backends.backend_for("riscv")


def test_the_host_target_type_names_the_host_back_end_targets() -> None:
    # compile's overloads promise a CompiledModel for these names: they must be what the host back end owns
    assert set(get_args(HostTarget)) == set(backends.backend_for("host").target_names())


def test_an_unknown_compile_option_is_a_user_error() -> None:
    model, clip = conv_model()
    with pytest.raises(UserError, match="unknown compile option\\(s\\) thread; known: group_shape, threads"):
        rt3d_mlir.compile(model, clip, thread=2)
