"""The ``rt3d train``, ``rt3d prune`` and ``rt3d prune-report`` subcommands.

``register(subparsers)`` adds them to the ``rt3d`` parser; each sets
``handler=fn(args) -> int``. Bad input raises :class:`UserError`.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from rt3d_mlir.arguments import MAX_SEED, MAX_THREADS, MAX_WORKERS, clip_size, real_number, whole_number, width_multiplier
from rt3d_mlir.data import DATASETS, build_datasets
from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape
from rt3d_mlir.models import MODELS
from rt3d_mlir.outputs import check_output_file, check_output_folder
from rt3d_mlir.prune.checkpoint import (
    build_from_kwargs,
    build_profile,
    dense_profile,
    format_profile,
    load_model_checkpoint,
    load_pruned_model,
    model_kwargs,
    pruned_layer_schemes,
    recompute_profile,
    save_model_checkpoint,
)
from rt3d_mlir.prune.flops import measure_layers
from rt3d_mlir.prune.masks import check_rate_reachable
from rt3d_mlir.prune.regularizers import ALGORITHMS, GroupPenalty, check_algorithm
from rt3d_mlir.prune.schemes import ROW_AXES, SCHEMES, check_row_axis, get_scheme, rowless_layers, scheme_label, select_layers
from rt3d_mlir.prune.training import (
    STATE_FILE,
    PruningPlan,
    Stage,
    Trainer,
    check_device,
    init_distributed,
    initialize_for_training,
)

# Options that change how a run executes but not what it computes: a run may resume with other values.
_EXECUTION_OPTIONS = {"handler", "resume", "max_steps", "checkpoint_every", "workers", "threads", "no_progress", "device"}


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="synthetic", help=f"one of {', '.join(DATASETS)} (default: synthetic)")
    data.add_argument("--data-root", help="UCF101/HMDB51: folder of the videos or frame folders")
    data.add_argument("--splits-root", help="UCF101/HMDB51: folder of the official split files")
    data.add_argument("--split", type=int, choices=(1, 2, 3), default=1, help="UCF101/HMDB51 official split 1, 2 or 3 (default: 1)")
    data.add_argument("--train-clips", type=whole_number(), default=2000, help="synthetic training clips (default: 2000)")
    data.add_argument("--test-clips", type=whole_number(), default=500, help="synthetic test clips (default: 500)")
    data.add_argument("--data-seed", type=whole_number(0, MAX_SEED), default=0, help="seed of the synthetic set (default: 0)")


def _add_run_options(parser: argparse.ArgumentParser, epochs_help: str) -> None:
    run = parser.add_argument_group("run")
    run.add_argument("--out", required=True, help="the checkpoint to write (a .pt file)")
    run.add_argument("--work-dir", help="where the resumable run state goes (default: OUT with .work instead of .pt)")
    run.add_argument("--resume", action="store_true", help="continue the interrupted run saved in the work dir")
    run.add_argument("--checkpoint-every", type=whole_number(), default=100, help="save the run state every N steps (default: 100)")
    run.add_argument("--max-steps", type=whole_number(), help="stop, resumable, after N optimizer steps in this invocation")
    run.add_argument("--batch-size", type=whole_number(), default=32, help="global batch size over all processes (default: 32)")
    run.add_argument("--seed", type=whole_number(0, MAX_SEED), default=0, help="seed of initialisation, data order and dropout (default: 0)")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto, cpu or cuda (default: auto)")
    run.add_argument("--workers", type=whole_number(0, MAX_WORKERS), default=0, help="data-loading worker processes (default: 0)")
    run.add_argument("--threads", type=whole_number(1, MAX_THREADS), help="CPU threads per process (default: PyTorch's choice)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--epochs", type=whole_number(0), help=epochs_help)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``train``, ``prune`` and ``prune-report`` to the ``rt3d`` command."""
    train = subparsers.add_parser(
        "train",
        help="train a dense zoo model on video clips",
        description="Trains a dense zoo model; the checkpoint it writes is what rt3d prune starts from.",
    )
    train.add_argument("--model", default="c3d", help=f"one of {', '.join(MODELS)} (default: c3d)")
    train.add_argument("--width", type=width_multiplier, default=1.0, help="channel width multiplier (default: 1.0)")
    train.add_argument("--input-size", type=clip_size, help="clip size FRAMESxHEIGHTxWIDTH (default: the model's paper size)")
    train.add_argument("--lr", type=real_number(0, above=True), default=1e-3, help="Adam learning rate, cosine-decayed (default: 1e-3)")
    _add_data_options(train)
    _add_run_options(train, "training epochs (default: 10)")
    train.set_defaults(handler=run_train)

    prune = subparsers.add_parser(
        "prune",
        help=f"prune a trained model to a sparsity scheme ({', '.join(SCHEMES)})",
        description="Prunes the model of a dense checkpoint: optional group regularization, hard pruning "
        "to a FLOPs pruning rate or threshold, then masked fine-tuning. The checkpoint it writes holds exact "
        "zeros and a per-layer profile, and rt3d compile reads it directly.",
    )
    prune.add_argument("--dense", required=True, help="checkpoint written by rt3d train")
    prune.add_argument("--model", help="zoo model name; must be the dense checkpoint's (default: its model)")
    schemes = "; ".join(f"{name}: {scheme.summary}" for name, scheme in SCHEMES.items())
    prune.add_argument("--scheme", default="kgs", help=f"{schemes} (default: kgs)")
    prune.add_argument("--row-axis", default=None, help=f"kgs-row: the kernel axis rows run along, {', '.join(ROW_AXES)} (default: w)")
    algorithms = "; ".join(f"{name}: {summary}" for name, summary in ALGORITHMS.items())
    prune.add_argument("--algorithm", default="reweighted", help=f"{algorithms} (default: reweighted)")
    prune.add_argument("--group-shape", default="8x4", help="kernel group FILTERSxCHANNELS (default: 8x4)")
    target = prune.add_mutually_exclusive_group(required=True)
    target.add_argument("--target-rate", type=real_number(1), help="FLOPs pruning rate to reach: dense / remaining MACs")
    target.add_argument(
        "--threshold", type=real_number(0, 1, below=True), help="prune units whose mean square is below this fraction of their layer's"
    )
    prune.add_argument("--layers", help="comma-separated Conv3d names to prune (default: every conv the group fits)")
    prune.add_argument("--penalty", type=real_number(0, above=True), default=5e-4, help="regularization strength lambda (default: 5e-4)")
    prune.add_argument("--eps", type=real_number(0, above=True), default=1e-4, help="reweighting P = 1 / (||W||^2 + eps) (default: 1e-4)")
    prune.add_argument("--reweight-steps", type=whole_number(), default=4, help="reweighting steps (default: 4)")
    prune.add_argument("--regularize-epochs", type=whole_number(0), default=4, help="epochs with the penalty (default: 4)")
    prune.add_argument("--lr", type=real_number(0, above=True), default=2e-4, help="Adam learning rate while regularizing (default: 2e-4)")
    prune.add_argument("--finetune-lr", type=real_number(0, above=True), help="Adam learning rate of masked fine-tuning (default: --lr)")
    prune.add_argument("--distill-weight", type=real_number(0), default=0.0, help="weight of distillation from the dense model")
    prune.add_argument("--temperature", type=real_number(0, above=True), default=4.0, help="distillation temperature (default: 4)")
    prune.add_argument("--profile-out", help="also write the profile JSON here (default: OUT with .profile.json)")
    _add_data_options(prune)
    _add_run_options(prune, "masked fine-tuning epochs (default: 4)")
    prune.set_defaults(handler=run_prune)

    report = subparsers.add_parser(
        "prune-report",
        help="print the per-layer sparsity/FLOPs report of a checkpoint",
        description="Recomputes the per-layer kept fractions and MACs of a checkpoint's weights at the group "
        "shapes of its profile and prints them.",
    )
    report.add_argument("checkpoint", help="checkpoint written by rt3d train or rt3d prune")
    report.add_argument("--json", action="store_true", help="print the profile as JSON")
    report.set_defaults(handler=run_report)


def _run_config(args: argparse.Namespace) -> dict[str, Any]:
    return {key: value for key, value in sorted(vars(args).items()) if key not in _EXECUTION_OPTIONS}


def _work_dir(args: argparse.Namespace) -> Path:
    return Path(args.work_dir) if args.work_dir else Path(args.out).with_suffix(".work")


def _profile_path(args: argparse.Namespace) -> str:
    return args.profile_out or str(Path(args.out).with_suffix(".profile.json"))


def _check_outputs(args: argparse.Namespace, *files: tuple[str, str]) -> None:
    """Fails before any training if the checkpoint, the work dir or another output (option, path) cannot be written,
    if --resume finds no saved run or a new run would overwrite one, or if --device names no usable device."""
    check_output_file(args.out, "--out", create_parents=True)
    work_dir = _work_dir(args)
    check_output_folder(str(work_dir), "--work-dir")
    for option, path in files:
        check_output_file(path, option, create_parents=True)
    state = work_dir / STATE_FILE
    if args.resume and not state.is_file():
        raise UserError(f"--resume: {work_dir} holds no saved run ({STATE_FILE})")
    if not args.resume and state.exists():
        raise UserError(f"{work_dir} holds an earlier run: pass --resume to continue it, or remove it")
    check_device(args.device)


def _datasets(args: argparse.Namespace, input_size: tuple[int, int, int]):
    if args.dataset == "synthetic" and args.batch_size > args.train_clips:  # known before minutes of rendering clips
        raise UserError(f"--batch-size {args.batch_size} is larger than the training set ({args.train_clips} clips)")
    return build_datasets(
        args.dataset,
        input_size,
        seed=args.data_seed,
        train_clips=args.train_clips,
        test_clips=args.test_clips,
        root=args.data_root,
        splits_root=args.splits_root,
        split=args.split,
    )


def _trainer(args: argparse.Namespace, model: torch.nn.Module, datasets, stages: list[Stage], **extra) -> Trainer:
    torch.set_flush_denormal(True)  # weights pushed towards zero would otherwise slow CPU training many times
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    distributed, device = init_distributed(args.device)
    work_dir = _work_dir(args)
    trainer = Trainer(
        model,
        datasets[0],
        datasets[1],
        stages,
        work_dir=work_dir,
        config=_run_config(args),
        batch_size=args.batch_size,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        device=device,
        distributed=distributed,
        workers=args.workers,
        progress=not args.no_progress,
        **extra,
    )
    if args.resume:
        trainer.resume()
    return trainer


def _finish(trainer: Trainer, completed: bool) -> bool:
    """Leaves the process group; True when this process should write the results."""
    if not completed and trainer.distributed.is_main:
        print(f"stopped after step {trainer.state.global_step}; continue with the same command and --resume")
    trainer.release_distributed()
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return completed and trainer.distributed.is_main


def run_train(args: argparse.Namespace) -> int:
    if args.model not in MODELS:
        raise UserError(f"unknown model '{args.model}'; the zoo has: {', '.join(MODELS)}")
    _check_outputs(args)
    input_size = args.input_size or MODELS[args.model].input_size
    torch.manual_seed(args.seed)
    datasets = _datasets(args, input_size)
    kwargs = model_kwargs(datasets[2], args.width, input_size)
    model = build_from_kwargs(args.model, kwargs)
    initialize_for_training(model, torch.stack([datasets[0][index][0] for index in range(min(64, len(datasets[0])))]))
    epochs = 10 if args.epochs is None else args.epochs
    trainer = _trainer(args, model, datasets, [Stage("train", epochs, args.lr)])
    completed = trainer.run(args.max_steps)
    accuracy = trainer.final_accuracy() if completed else None
    if _finish(trainer, completed):
        profile = dense_profile(args.model, trainer.model, input_size)
        metrics = {"accuracy": accuracy, "history": trainer.state.history}
        save_model_checkpoint(args.out, args.model, kwargs, trainer.model.cpu(), profile, metrics)
        trainer.discard_state()
        print(f"dense {args.model}: test accuracy {accuracy:.4f}, {profile['macs_dense']:,} MACs per clip -> {args.out}")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    scheme = get_scheme(args.scheme)
    if args.row_axis is not None and scheme.unit != "row":
        raise UserError(f"--row-axis is for --scheme kgs-row, not {scheme.name}")
    row_axis = check_row_axis(args.row_axis or "w")
    algorithm = check_algorithm(args.algorithm)
    group_shape = GroupShape.parse(args.group_shape)
    _check_outputs(args, ("--profile-out", _profile_path(args)))
    dense, payload = load_model_checkpoint(args.dense)
    if args.model is not None and args.model != payload["model"]:
        raise UserError(f"--model {args.model} does not match the dense checkpoint's model {payload['model']}")
    kwargs = payload["model_kwargs"]
    input_size = tuple(kwargs["input_size"])
    model = copy.deepcopy(dense)
    costs = measure_layers(model, input_size)
    total_macs = sum(cost.macs_dense for cost in costs)
    names = [name.strip() for name in args.layers.split(",")] if args.layers else None
    layers = select_layers(costs, scheme, group_shape, names, row_axis)
    rowless = rowless_layers(costs, scheme, row_axis) if names is None else []  # a named rowless layer is an error
    notes = [f"left dense, kernel 1 along {row_axis} (no rows): {', '.join(rowless)}"] if rowless else []
    if args.target_rate is not None:
        check_rate_reachable(layers, args.target_rate, total_macs)
    # the data last: the checks above need only the model, the clips may take minutes
    torch.manual_seed(args.seed)
    datasets = _datasets(args, input_size)
    if datasets[2] != kwargs["num_classes"]:
        raise UserError(
            f"the dense model has {kwargs['num_classes']} classes but data set {args.dataset} has {datasets[2]}"
        )
    plan = PruningPlan(
        layers=layers,
        total_macs_dense=total_macs,
        penalty=GroupPenalty(layers, algorithm, args.eps) if algorithm != "heuristic" else None,
        strength=args.penalty,
        reweight_steps=args.reweight_steps,
        target_rate=args.target_rate,
        threshold=args.threshold,
        teacher=dense if args.distill_weight > 0 else None,
        distill_weight=args.distill_weight,
        temperature=args.temperature,
    )
    finetune = Stage("finetune", 4 if args.epochs is None else args.epochs, args.finetune_lr or args.lr)
    stages = [finetune] if algorithm == "heuristic" else [Stage("regularize", args.regularize_epochs, args.lr), finetune]
    trainer = _trainer(args, model, datasets, stages, pruning=plan)
    completed = trainer.run(args.max_steps)
    accuracy = trainer.final_accuracy() if completed else None
    if _finish(trainer, completed):
        profile = build_profile(payload["model"], input_size, costs, pruned_layer_schemes(layers), notes)
        dense_accuracy = payload.get("metrics", {}).get("accuracy")
        metrics = {
            "accuracy": accuracy,
            "dense_accuracy": dense_accuracy,
            "scheme": scheme_label(scheme, row_axis),
            "algorithm": algorithm,
            "group_shape": str(group_shape),
            "history": trainer.state.history,
        }
        save_model_checkpoint(args.out, payload["model"], kwargs, trainer.model.cpu(), profile, metrics)
        profile_path = Path(_profile_path(args))
        profile_path.write_text(json.dumps(profile, indent=2) + "\n")
        trainer.discard_state()
        print(format_profile(profile))
        before = f"{dense_accuracy:.4f} dense -> " if dense_accuracy is not None else ""
        print(f"{scheme_label(scheme, row_axis)}/{algorithm}: test accuracy {before}{accuracy:.4f}; wrote {args.out} and {profile_path}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    model, profile = load_pruned_model(args.checkpoint)
    # Recomputed from the weights, so the report shows what the file really holds.
    profile = recompute_profile(profile["model"], model, profile)
    print(json.dumps(profile, indent=2) if args.json else format_profile(profile))
    return 0
