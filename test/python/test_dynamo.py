"""torch.compile(backend="rt3d"): registration, zoo models, graph breaks, eager fallback, bad input."""

import importlib.metadata
import warnings

import pytest
import torch
from torch import nn

import rt3d_mlir.compiler
from rt3d_mlir import kgs
from rt3d_mlir.demo import C3D_PAPER_PRUNING, prune_randomly
from rt3d_mlir.dynamo import EagerFallbackWarning, rt3d_backend
from rt3d_mlir.models import build_model, example_input


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.fixture
def rt3d_compiles(monkeypatch):
    """The models rt3d_mlir.compile built while the test ran (so a test can tell ours from an eager fallback)."""
    built = []
    original = rt3d_mlir.compiler.compile

    def recording(*args, **kwargs):
        built.append(original(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(rt3d_mlir.compiler, "compile", recording)
    return built


def compiled_output(model: nn.Module, clip: torch.Tensor, **compile_options) -> tuple[torch.Tensor, torch.Tensor]:
    """(torch.compile(model, backend="rt3d")(clip), model(clip)), both without autograd."""
    with torch.no_grad():
        return torch.compile(model, backend="rt3d", **compile_options)(clip), model(clip)


def test_backend_is_found_through_its_entry_point():
    entry_points = importlib.metadata.entry_points(group="torch_dynamo_backends")
    assert [point.value for point in entry_points if point.name == "rt3d"] == ["rt3d_mlir.dynamo:rt3d_backend"]
    assert torch._dynamo.lookup_backend("rt3d") is rt3d_backend


def zoo_case(name: str, clip: tuple[int, int, int], pruned: bool) -> tuple[nn.Module, torch.Tensor]:
    model = build_model(name, width=0.125, input_size=clip)
    if pruned:
        prune_randomly(model, C3D_PAPER_PRUNING, kgs.GroupShape(8, 4), seed=1)
    return model, example_input(name, input_size=clip)


@pytest.mark.parametrize(
    "name, clip, pruned",
    [
        ("c3d", (16, 32, 32), True),
        pytest.param("r2plus1d_18", (4, 32, 32), False, marks=pytest.mark.slow),
        pytest.param("s3d", (8, 32, 32), False, marks=pytest.mark.slow),
    ],
)
def test_zoo_model_runs_through_rt3d(name, clip, pruned, rt3d_compiles):
    model, example = zoo_case(name, clip, pruned)
    got, expected = compiled_output(model, example, options={"threads": 2})
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))
    (compiled,) = rt3d_compiles
    assert compiled.threads == 2
    if pruned:  # the weights reached sparse3d-from-linalg as constants: the KGS patterns were found
        assert [round(c.kept_fraction, 3) for c in compiled.convs][1:4] == [0.148, 0.185, 0.148]


class BrokenGraph(nn.Module):
    """conv, batch norm, ReLU | graph break | strided conv with a tail."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.BatchNorm3d(8), nn.ReLU())
        self.second = nn.Conv3d(8, 4, 3, stride=2)
        self.first[1].running_mean.uniform_(-0.5, 0.5)
        self.first[1].running_var.uniform_(0.5, 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.first(x)
        torch._dynamo.graph_break()
        return self.second(y)


def test_each_graph_around_a_break_runs_through_rt3d(rt3d_compiles):
    model = BrokenGraph().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error", EagerFallbackWarning)
        got, expected = compiled_output(model, torch.randn(1, 3, 5, 9, 9))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    assert len(rt3d_compiles) == 2


class ConvThenMedian(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).median(dim=-1).values


def test_unsupported_op_runs_in_eager_with_one_warning_naming_it():
    model = ConvThenMedian().eval()
    with pytest.warns(EagerFallbackWarning) as record:
        got, expected = compiled_output(model, torch.randn(1, 3, 4, 6, 6))
    assert [str(w.message) for w in record if w.category is EagerFallbackWarning] == [
        "rt3d runs this graph in torch eager: torch-mlir cannot lower the model to linalg: "
        "failed to legalize operation 'torch.aten.median.dim' that was explicitly marked illegal"
    ]
    assert torch.equal(got, expected)


def test_graph_that_needs_autograd_runs_in_eager(rt3d_compiles):
    model = BrokenGraph().train()
    clip = torch.randn(1, 3, 5, 9, 9)
    with pytest.warns(EagerFallbackWarning, match="the graph needs autograd"):
        got = torch.compile(model, backend="rt3d")(clip)
    got.sum().backward()
    assert model.second.weight.grad is not None and not rt3d_compiles


@pytest.mark.parametrize(
    "compile_options, message",
    [
        ({"dynamic": True}, "DynamicShapesError: rt3d compiles static shapes only, but input .* has a symbolic shape; "
                            r"use torch.compile\(model, backend='rt3d', dynamic=False\)"),
        ({"options": {"target": "aarch64"}}, "target 'aarch64' does not run in this process"),
        ({"options": {"thread": 2}}, "unknown rt3d option.s. thread; the backend takes target, threads, group_shape"),
    ],
)
def test_bad_input_is_a_clear_exception(compile_options, message, rt3d_compiles):
    with pytest.raises(torch._dynamo.exc.BackendCompilerFailed, match=message):
        compiled_output(ConvThenMedian().eval(), torch.randn(1, 3, 4, 6, 6), **compile_options)
    assert not rt3d_compiles
