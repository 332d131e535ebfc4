"""The training loop behind ``rt3d train`` and ``rt3d prune``: stages, checkpoints, resume, DDP.

A run is a list of stages (``train``; or ``regularize`` then ``finetune``; or
only ``finetune`` for the heuristic). Its whole state (weights, optimizer,
reweighting coefficients, masks, random generators and position down to the
batch) is saved every ``checkpoint_every`` steps and at every epoch end, so a
resumed run continues exactly where the interrupted one stopped.

Under ``torchrun`` every process takes its share of each global batch and
PyTorch's DistributedDataParallel averages the gradients, so the optimisation
is that of one process with the whole batch.
"""

from __future__ import annotations

import gc
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from rt3d_mlir.data.clips import ClipDataset
from rt3d_mlir.errors import UserError
from rt3d_mlir.prune.checkpoint import read_checkpoint, save_atomically
from rt3d_mlir.prune.masks import Masks, apply_masks, masks_by_threshold, masks_for_rate
from rt3d_mlir.prune.regularizers import GroupPenalty
from rt3d_mlir.prune.schemes import PrunableLayer

STATE_FORMAT = "rt3d-train-state-v1"
STATE_FILE = "state.pt"
STAGES = ("train", "regularize", "finetune")


def initialize_for_training(model: nn.Module, example: torch.Tensor) -> None:
    """He initialisation, then each conv/linear rescaled so its output has unit variance on ``example``.

    PyTorch's default initialisation shrinks activations layer after layer, and
    at small clip sizes C3D's deep layers see mostly padding, which shrinks
    them further: a deep plain ReLU network without batch norm then starts
    with a vanishing signal and barely trains. Rescaling layer by layer on real
    data (in the manner of LSUV initialisation) fixes both.
    """
    layers = [module for module in model.modules() if isinstance(module, (nn.Conv3d, nn.Linear))]
    for module in layers:
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for module in layers:
            captured: list[torch.Tensor] = []
            handle = module.register_forward_hook(lambda _m, _i, output, captured=captured: captured.append(output))
            model(example)
            handle.remove()
            module.weight.div_(captured[0].std().clamp_min(1e-6))
    model.train(was_training)


def distillation_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 * KL(teacher_T || student_T) per clip (Hinton et al.); T^2 keeps gradients comparable across T."""
    return temperature**2 * F.kl_div(
        F.log_softmax(logits / temperature, dim=1),
        F.log_softmax(teacher_logits / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    )


@dataclass(frozen=True)
class Stage:
    name: str  # one of STAGES
    epochs: int
    lr: float

    @property
    def cosine(self) -> bool:
        # The regularization stage keeps a constant rate so late reweighting steps still move weights.
        return self.name != "regularize"


@dataclass
class PruningPlan:
    """What ``regularize`` and ``finetune`` need: the layers, the penalty and the hard-pruning rule."""

    layers: list[PrunableLayer]
    total_macs_dense: int
    penalty: GroupPenalty | None = None
    strength: float = 5e-4
    reweight_steps: int = 4
    target_rate: float | None = None
    threshold: float | None = None
    teacher: nn.Module | None = None
    distill_weight: float = 0.0
    temperature: float = 4.0

    def __post_init__(self) -> None:
        # checked here, not when fine-tuning starts after the whole regularize stage
        if (self.target_rate is None) == (self.threshold is None):
            raise UserError("a pruning plan needs exactly one of a target rate and a threshold")

    def hard_prune(self) -> Masks:
        if self.target_rate is not None:
            return masks_for_rate(self.layers, self.target_rate, self.total_macs_dense)
        assert self.threshold is not None  # __post_init__
        return masks_by_threshold(self.layers, self.threshold)


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def check_device(device_name: str) -> bool:
    """Whether ``device_name`` (auto, cpu or cuda) means CUDA here; a UserError if it names no usable device."""
    if device_name not in ("auto", "cpu", "cuda"):
        raise UserError(f"device must be auto, cpu or cuda, got '{device_name}'")
    if device_name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but PyTorch sees no CUDA device")
    return torch.cuda.is_available() if device_name == "auto" else device_name == "cuda"


def init_distributed(device_name: str) -> tuple[Distributed, torch.device]:
    """Joins the torchrun process group when launched by torchrun and picks this process's device."""
    use_cuda = check_device(device_name)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed(), torch.device("cuda" if use_cuda else "cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    return Distributed(dist.get_rank(), dist.get_world_size()), device


@dataclass
class RunState:
    stage_index: int = 0
    stage_started: bool = False
    epoch: int = 0
    batch: int = 0
    global_step: int = 0
    masks: Masks | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Runs ``stages`` on ``model``; checkpoints and resumes through ``work_dir/state.pt``."""

    def __init__(
        self,
        model: nn.Module,
        train_set: ClipDataset,
        test_set: ClipDataset,
        stages: list[Stage],
        *,
        work_dir: Path,
        config: dict[str, Any],
        batch_size: int = 32,
        seed: int = 0,
        checkpoint_every: int = 100,
        pruning: PruningPlan | None = None,
        device: torch.device = torch.device("cpu"),
        distributed: Distributed = Distributed(),
        workers: int = 0,
        progress: bool = True,
    ) -> None:
        for stage in stages:
            if stage.name not in STAGES or stage.epochs < 0 or stage.lr <= 0:
                raise UserError(
                    f"stage {stage.name!r}: the name must be one of {', '.join(STAGES)}, epochs >= 0 and the learning rate > 0"
                )
        if batch_size < 1 or batch_size % distributed.world_size:
            raise UserError(
                f"batch size {batch_size} must be a positive multiple of the {distributed.world_size} processes"
            )
        if len(train_set) < batch_size:
            raise UserError(f"batch size {batch_size} is larger than the training set ({len(train_set)} clips)")
        needs_plan = {"regularize", "finetune"} & {stage.name for stage in stages}
        if needs_plan and pruning is None:
            raise UserError(f"stages {', '.join(sorted(needs_plan))} need a pruning plan")
        if any(stage.name == "regularize" for stage in stages) and pruning is not None and pruning.penalty is None:
            raise UserError("the regularize stage needs a penalty (the heuristic algorithm has none)")
        if checkpoint_every < 1:
            raise UserError(f"--checkpoint-every must be at least 1 step, got {checkpoint_every}")
        self.model = model.to(device)
        self.forward_model = DistributedDataParallel(self.model) if distributed.world_size > 1 else self.model
        self.train_set, self.test_set = train_set, test_set
        self.stages = stages
        self.work_dir = Path(work_dir)
        self.config = config
        self.batch_size = batch_size
        self.seed = seed
        self.checkpoint_every = checkpoint_every
        self.pruning = pruning
        self.device = device
        self.distributed = distributed
        self.workers = workers
        self.progress = progress and distributed.is_main
        self.state = RunState()
        self.optimizer = self._new_optimizer(stages[0])
        if pruning and pruning.teacher is not None:
            pruning.teacher.to(device).eval()

    # --- state -------------------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.work_dir / STATE_FILE

    def _new_optimizer(self, stage: Stage) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.parameters(), lr=stage.lr)

    def _rng_states(self) -> list[torch.Tensor]:
        own = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else torch.get_rng_state()
        if self.distributed.world_size == 1:
            return [own]
        gathered: list[torch.Tensor] = [None] * self.distributed.world_size  # type: ignore[list-item]
        dist.all_gather_object(gathered, own.cpu())
        return gathered

    def save(self) -> None:
        rng_states = self._rng_states()  # collective: every process takes part
        if not self.distributed.is_main:
            return
        state = self.state
        save_atomically(
            {
                "format": STATE_FORMAT,
                "config": self.config,
                "world_size": self.distributed.world_size,
                "stage_index": state.stage_index,
                "stage_started": state.stage_started,
                "epoch": state.epoch,
                "batch": state.batch,
                "global_step": state.global_step,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "penalty": self.pruning.penalty.state_dict() if self.pruning and self.pruning.penalty else None,
                "masks": state.masks,
                "rng": rng_states,
                "history": state.history,
            },
            self.state_path,
        )

    def discard_state(self) -> None:
        """Removes the saved run state once the results are written: a finished run leaves nothing to resume."""
        self.state_path.unlink(missing_ok=True)
        if self.work_dir.is_dir() and not any(self.work_dir.iterdir()):  # a --work-dir may hold the user's own files
            self.work_dir.rmdir()

    def resume(self) -> None:
        """Restores the state saved in ``work_dir``; the settings must be those the run started with."""
        saved = read_checkpoint(self.state_path, STATE_FORMAT)
        if saved["config"] != self.config:
            changed = sorted(key for key in {**saved["config"], **self.config} if saved["config"].get(key) != self.config.get(key))
            raise UserError(
                f"the run in {self.work_dir} was started with different settings ({', '.join(changed)}); "
                "resume it with the same options or use a new work directory"
            )
        if saved["world_size"] != self.distributed.world_size:
            raise UserError(
                f"the run in {self.work_dir} used {saved['world_size']} processes; resume it with as many"
            )
        self.model.load_state_dict(saved["model"])
        stage = self.stages[min(saved["stage_index"], len(self.stages) - 1)]
        self.optimizer = self._new_optimizer(stage)
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.pruning and self.pruning.penalty:
            self.pruning.penalty.load_state_dict(saved["penalty"])
        own_rng = saved["rng"][self.distributed.rank]
        if self.device.type == "cuda":
            torch.cuda.set_rng_state(own_rng, self.device)
        else:
            torch.set_rng_state(own_rng)
        self.state = RunState(
            stage_index=saved["stage_index"],
            stage_started=saved["stage_started"],
            epoch=saved["epoch"],
            batch=saved["batch"],
            global_step=saved["global_step"],
            masks=saved["masks"],
            history=saved["history"],
        )

    # --- the loop ---------------------------------------------------------------------------

    def _epoch_batches(self, stage_index: int, epoch: int) -> list[list[int]]:
        """This process's share of each full global batch; the order depends only on (seed, stage, epoch)."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + stage_index * 10_007 + epoch)
        order = torch.randperm(len(self.train_set), generator=generator)
        rank, world = self.distributed.rank, self.distributed.world_size
        size = self.batch_size
        return [order[start : start + size][rank::world].tolist() for start in range(0, len(order) - size + 1, size)]

    def _begin_stage(self, stage: Stage) -> None:
        self.optimizer = self._new_optimizer(stage)
        if stage.name == "regularize":
            self._regularization()[1].reweight()
        elif stage.name == "finetune" and self.pruning is not None:
            self.state.masks = self.pruning.hard_prune()
            apply_masks(self.model, self.state.masks)
        self.state.stage_started = True
        self.save()

    def _loss(self, stage: Stage, clips: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = self.forward_model(clips)
        loss = F.cross_entropy(logits, labels)
        plan = self.pruning
        if plan is not None and plan.teacher is not None and plan.distill_weight > 0:
            with torch.no_grad():
                teacher_logits = plan.teacher(clips)
            loss = loss + plan.distill_weight * distillation_loss(logits, teacher_logits, plan.temperature)
        if stage.name == "regularize":
            plan, penalty = self._regularization()
            loss = loss + plan.strength * penalty()
        return loss

    def _maybe_reweight(self, stage: Stage, step_in_stage: int, steps_in_stage: int) -> None:
        if stage.name != "regularize":
            return
        plan, penalty = self._regularization()
        period = max(1, steps_in_stage // plan.reweight_steps)
        if 0 < step_in_stage and step_in_stage % period == 0 and step_in_stage // period < plan.reweight_steps:
            penalty.reweight()

    def _regularization(self) -> tuple[PruningPlan, GroupPenalty]:
        """The plan and its penalty, which __init__ made sure a run with a regularize stage has."""
        assert self.pruning is not None and self.pruning.penalty is not None
        return self.pruning, self.pruning.penalty

    def evaluate(self) -> float:
        """Top-1 accuracy on the test set (sharded across processes)."""
        self.model.eval()
        indices = list(range(self.distributed.rank, len(self.test_set), self.distributed.world_size))
        loader = DataLoader(self.test_set, batch_size=self.batch_size, sampler=indices, num_workers=self.workers)
        counts = torch.zeros(2, dtype=torch.float64, device=self.device)
        with torch.no_grad():
            for clips, labels in loader:
                predictions = self.model(clips.to(self.device)).argmax(dim=1)
                counts += torch.tensor([(predictions.cpu() == labels).sum().item(), len(labels)], device=self.device)
        if self.distributed.world_size > 1:
            dist.all_reduce(counts)
        return float(counts[0] / counts[1])

    def release_distributed(self) -> None:
        """Frees the DistributedDataParallel wrapper; call it before destroying the process group.

        A DDP wrapper (its gradient reducer) that outlives the process group can hang
        the process when it is finally freed, after all the work is done.
        """
        if self.forward_model is not self.model:
            self.forward_model = self.model
            gc.collect()  # also if reference cycles hold it: free it now, not at exit

    def final_accuracy(self) -> float:
        """Test accuracy after the last epoch (evaluated now when no epoch ran); every process must call it."""
        return self.state.history[-1]["accuracy"] if self.state.history else self.evaluate()

    def run(self, max_steps: int | None = None) -> bool:
        """Trains until the last stage ends (True) or ``max_steps`` steps were taken in this call (False)."""
        steps_taken = 0
        while self.state.stage_index < len(self.stages):
            stage = self.stages[self.state.stage_index]
            if not self.state.stage_started:
                self._begin_stage(stage)
            while self.state.epoch < stage.epochs:
                batches = self._epoch_batches(self.state.stage_index, self.state.epoch)
                steps_in_stage = stage.epochs * len(batches)
                loader = DataLoader(
                    self.train_set,
                    batch_sampler=batches[self.state.batch :],
                    num_workers=self.workers,
                    generator=torch.Generator(),  # keeps the global generator (dropout) untouched
                )
                bar = tqdm(
                    loader,
                    total=len(batches),
                    initial=self.state.batch,
                    desc=f"{stage.name} {self.state.epoch + 1}/{stage.epochs}",
                    disable=not self.progress,
                    leave=False,
                    dynamic_ncols=True,
                )
                self.model.train()
                for clips, labels in bar:
                    if max_steps is not None and steps_taken >= max_steps:
                        bar.close()
                        self.save()
                        return False
                    step_in_stage = self.state.epoch * len(batches) + self.state.batch
                    self._maybe_reweight(stage, step_in_stage, steps_in_stage)
                    lr = stage.lr
                    if stage.cosine:
                        lr *= 0.5 * (1 + math.cos(math.pi * step_in_stage / steps_in_stage))
                    for group in self.optimizer.param_groups:
                        group["lr"] = lr
                    loss = self._loss(stage, clips.to(self.device), labels.to(self.device))
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer.step()
                    if self.state.masks is not None:
                        apply_masks(self.model, self.state.masks)
                    self.state.batch += 1
                    self.state.global_step += 1
                    steps_taken += 1
                    bar.set_postfix(loss=f"{loss.item():.3f}")
                    if self.state.global_step % self.checkpoint_every == 0:
                        self.save()
                bar.close()
                accuracy = self.evaluate()
                self.state.history.append({"stage": stage.name, "epoch": self.state.epoch + 1, "accuracy": accuracy})
                if self.progress:
                    tqdm.write(f"{stage.name} epoch {self.state.epoch + 1}/{stage.epochs}: test accuracy {accuracy:.4f}")
                self.state.epoch += 1
                self.state.batch = 0
                self.save()
            self.state.stage_index += 1
            self.state.stage_started = False
            self.state.epoch = 0
            self.save()
        return True
