"""The training loop: masked fine-tuning keeps zeros, resume is exact, checkpoints load back safely."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from rt3d_mlir.data import SyntheticMotion
from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape
from rt3d_mlir.models import build_model
from rt3d_mlir.prune import (
    GroupPenalty,
    PruningPlan,
    Stage,
    Trainer,
    build_profile,
    get_scheme,
    load_pruned_model,
    measure_layers,
    save_model_checkpoint,
    select_layers,
)
from rt3d_mlir.prune.checkpoint import model_kwargs, pruned_layer_schemes
from rt3d_mlir.prune.training import distillation_loss

INPUT_SIZE = (16, 16, 16)
KWARGS = model_kwargs(10, 0.125, INPUT_SIZE)


@pytest.fixture(scope="module")
def data() -> tuple[SyntheticMotion, SyntheticMotion]:
    return SyntheticMotion(48, INPUT_SIZE, seed=3, split="train"), SyntheticMotion(20, INPUT_SIZE, seed=3, split="test")


def _trainer(data, work_dir: Path, algorithm: str = "reweighted") -> Trainer:
    torch.manual_seed(0)
    model = build_model("c3d", num_classes=10, width=0.125, input_size=INPUT_SIZE)
    costs = measure_layers(model, INPUT_SIZE)
    layers = select_layers(costs, get_scheme("kgs"), GroupShape(8, 4))
    plan = PruningPlan(
        layers=layers,
        total_macs_dense=sum(cost.macs_dense for cost in costs),
        penalty=GroupPenalty(layers, algorithm) if algorithm != "heuristic" else None,
        strength=1e-3,
        reweight_steps=3,
        target_rate=2.0,
        teacher=copy.deepcopy(model),
        distill_weight=0.5,
    )
    stages = [Stage("regularize", 2, 1e-3), Stage("finetune", 1, 1e-3)]
    if algorithm == "heuristic":
        stages = stages[1:]
    return Trainer(
        model, *data, stages, work_dir=work_dir, config={"case": algorithm}, batch_size=8, checkpoint_every=4,
        pruning=plan, progress=False,
    )


def test_masked_finetuning_keeps_pruned_weights_exactly_zero(data, tmp_path: Path) -> None:
    trainer = _trainer(data, tmp_path, "heuristic")
    assert trainer.run()
    masks = trainer.state.masks
    assert masks is not None and trainer.state.global_step == 6
    for name, module in trainer.model.named_modules():
        if name in masks:
            assert torch.all(module.weight[~masks[name]] == 0)
            assert torch.all(module.weight[masks[name]] != 0)  # kept weights did train and stay non-zero
    profile = build_profile("c3d", INPUT_SIZE, measure_layers(trainer.model, INPUT_SIZE), pruned_layer_schemes(trainer.pruning.layers))
    assert profile["flops_rate"] >= 2.0


def test_resume_continues_exactly_where_the_run_stopped(data, tmp_path: Path) -> None:
    straight = _trainer(data, tmp_path / "straight")
    assert straight.run()

    interrupted = _trainer(data, tmp_path / "interrupted")
    assert not interrupted.run(max_steps=5)  # stops mid-epoch, mid reweighting period
    resumed = _trainer(data, tmp_path / "interrupted")
    resumed.resume()
    assert resumed.state.global_step == 5 and resumed.state.batch == 5
    assert not resumed.run(max_steps=4)  # and once more across the hard-pruning boundary
    final = _trainer(data, tmp_path / "interrupted")
    final.resume()
    assert final.run()

    assert final.state.global_step == straight.state.global_step == 18
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, final.model.state_dict()[name]), name
    assert [entry["accuracy"] for entry in final.state.history] == [entry["accuracy"] for entry in straight.state.history]
    for name in straight.state.masks:
        assert torch.equal(straight.state.masks[name], final.state.masks[name])


def test_resume_refuses_other_settings(data, tmp_path: Path) -> None:
    trainer = _trainer(data, tmp_path)
    trainer.run(max_steps=1)
    other = _trainer(data, tmp_path)
    other.config = {"case": "something else"}
    with pytest.raises(UserError, match="different settings"):
        other.resume()


@pytest.mark.parametrize("targets", [{}, {"target_rate": 2.0, "threshold": 0.1}])
def test_a_pruning_plan_needs_exactly_one_target(targets: dict[str, float]) -> None:
    # without one, hard pruning would fail only after the whole regularize stage
    with pytest.raises(UserError, match="exactly one of a target rate and a threshold"):
        PruningPlan(layers=[], total_macs_dense=1, **targets)


def _save(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    model = build_model("c3d", num_classes=10, width=0.125, input_size=INPUT_SIZE)
    with torch.no_grad():
        model.features.conv2a.weight[:8, :4, 0] = 0
    costs = measure_layers(model, INPUT_SIZE)
    layers = select_layers(costs, get_scheme("kgs"), GroupShape(8, 4))
    profile = build_profile("c3d", INPUT_SIZE, costs, pruned_layer_schemes(layers))
    path = tmp_path / "pruned.pt"
    save_model_checkpoint(path, "c3d", KWARGS, model, profile, {"accuracy": 0.5})
    return path, model


def test_pruned_checkpoint_round_trips_with_exact_zeros(tmp_path: Path) -> None:
    path, model = _save(tmp_path)
    payload = torch.load(path, weights_only=True)  # plain types and tensors only
    assert payload["model"] == "c3d" and payload["model_kwargs"] == KWARGS
    loaded, profile = load_pruned_model(path)
    assert not loaded.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
    assert torch.all(loaded.features.conv2a.weight[:8, :4, 0] == 0)
    conv2a = next(layer for layer in profile["layers"] if layer["name"] == "features.conv2a")
    assert conv2a["scheme"] == "kgs" and conv2a["group_shape"] == "8x4"
    assert conv2a["kept_fraction"] == pytest.approx(1 - (9 / 27) / (2 * 2))  # 16 filters x 8 channels: 4 groups
    assert profile["macs_kept"] == sum(layer["macs_kept"] for layer in profile["layers"])


def test_corrupt_foreign_and_mismatched_checkpoints_are_user_errors(tmp_path: Path) -> None:
    path, _ = _save(tmp_path)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(UserError, match="not a readable rt3d checkpoint"):
        load_pruned_model(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(UserError, match="not an rt3d-model-v1 checkpoint"):
        load_pruned_model(foreign)
    mismatched = tmp_path / "mismatched.pt"
    payload = torch.load(path, weights_only=True)
    payload["model_kwargs"] = {**payload["model_kwargs"], "width": 0.25}
    torch.save(payload, mismatched)
    with pytest.raises(UserError, match="does not match its model description"):
        load_pruned_model(mismatched)
    with pytest.raises(UserError, match="does not exist"):
        load_pruned_model(tmp_path / "missing.pt")


def test_distillation_loss_is_the_tempered_kl_divergence_and_pulls_towards_the_teacher() -> None:
    torch.manual_seed(0)
    teacher = torch.randn(4, 10)
    student = torch.randn(4, 10, requires_grad=True)
    loss = distillation_loss(student, teacher, temperature=3.0)
    p_teacher = torch.softmax(teacher / 3, dim=1)
    expected = 9 * (p_teacher * (p_teacher.log() - torch.log_softmax(student / 3, dim=1))).sum(1).mean()
    torch.testing.assert_close(loss, expected)
    assert distillation_loss(teacher, teacher, 3.0).abs() < 1e-6
    loss.backward()
    with torch.no_grad():
        closer = student - 0.1 * student.grad
    assert distillation_loss(closer, teacher, 3.0) < loss
