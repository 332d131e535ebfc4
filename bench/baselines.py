"""ONNX Runtime, OpenVINO and MNN as dense peers in the benchmarks, and the report both benchmarks print.

A torch module is exported once to ONNX with torch's TorchScript-based exporter
(``dynamo=False``: the torch.export-based one needs ``onnxscript``, which the
``bench`` extra does not install) and converted to MNN by the converter that the
``mnn`` wheel ships, in a temporary folder. The converter is called through its
extension module ``_tools``, not the ``mnnconvert`` script: that wrapper sends a
usage log to a remote server and, when its logging SDK is missing, runs
``pip install`` itself, which downgrades protobuf below what onnx needs.

For each thread count, :meth:`DensePeers.runners` opens an ONNX Runtime session
(intra-op threads N, inter-op 1, sequential execution, no spinning), an OpenVINO
CPU model compiled from the same ONNX file (f32 inference precision, latency
performance hint, N inference threads) and an MNN module (CPU runtime with N
threads, fp32 "high" precision), checks each one's
output against torch eager's, and returns one-inference callables for
``rt3d_mlir.timing.time_interleaved``. A peer that fails to import, export,
convert, open or match is listed in ``skipped`` with the reason and printed,
never dropped silently.

:func:`summarize` turns one round-robin measurement into rows and ratios;
FLOP = 2 x MAC throughout, and each variant's GFLOP/s counts the MACs it
computes (kept MACs for our KGS code, direct-convolution MACs for every dense
variant, even where a peer does fewer, e.g. MNN's fast (most likely Winograd) convolutions);
"% peak" is against the FMA microkernel's best round in the same measurement.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from rt3d_mlir.targets import Target

OURS_KGS = "ours KGS"
OURS_DENSE = "ours dense"
OURS = "ours "  # every variant of our code is named "ours ..." (e.g. "ours KGS direct"): none is a peer
FMA_PEAK = "FMA peak"
ONNX_RUNTIME = "onnxruntime"
OPENVINO = "OpenVINO"
MNN = "MNN"
# Peers that compute fewer multiplications than a direct convolution (MNN's Winograd): the
# direct-convolution targets compare against the others.
FAST_CONVOLUTION_PEERS = frozenset({MNN})
# Foreign runtimes reorder sums and MNN uses Winograd for 3x3 convs: a wrong result is off by O(1), these by ~1e-3.
RELATIVE_TOLERANCE = 1e-2

T = TypeVar("T")


def export_onnx(module: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(module, (example,), str(path), dynamo=False, input_names=["clip"])
    return path


def convert_to_mnn(onnx_path: Path, mnn_path: Path) -> Path:
    command = [sys.executable, "-c", "import sys, _tools; _tools.mnnconvert(sys.argv)",
               "-f", "ONNX", "--modelFile", str(onnx_path), "--MNNModel", str(mnn_path), "--bizCode", "rt3d"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not mnn_path.exists():
        output = (result.stdout + result.stderr).strip().splitlines()
        raise RuntimeError(f"converter exited {result.returncode}: {output[-1] if output else 'no output'}")
    return mnn_path


def open_onnx_runtime(path: Path, example: np.ndarray, threads: int) -> Callable[[], np.ndarray]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    # Idle workers must sleep, not spin, or they take the core from the next variant of the round.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {session.get_inputs()[0].name: example}
    return lambda: session.run(None, feeds)[0]


def open_openvino(path: Path, example: np.ndarray, threads: int) -> Callable[[], np.ndarray]:
    import openvino

    properties = {
        openvino.properties.hint.inference_precision: openvino.Type.f32,
        openvino.properties.hint.performance_mode: openvino.properties.hint.PerformanceMode.LATENCY,
        openvino.properties.inference_num_threads: threads,
    }
    model = openvino.Core().compile_model(str(path), "CPU", properties)
    request = model.create_infer_request()
    output = model.output(0)
    return lambda: request.infer({0: example})[output]


def open_mnn(path: Path, example: np.ndarray, threads: int) -> Callable[[], np.ndarray]:
    import MNN as mnn

    runtime = mnn.nn.create_runtime_manager(({"backend": "CPU", "numThread": threads, "precision": "high"},))
    module = mnn.nn.load_module_from_file(str(path), [], [], runtime_manager=runtime)
    clip = mnn.expr.const(example, list(example.shape), mnn.expr.NCHW)
    # The output may be in MNN's blocked layout: convert it, as every other variant returns NCDHW;
    # read() also forces the lazy graph to run.
    return lambda: mnn.expr.convert(module.forward(clip), mnn.expr.NCHW).read()


OPENERS: dict[str, Callable[[Path, np.ndarray, int], Callable[[], np.ndarray]]] = {
    ONNX_RUNTIME: open_onnx_runtime,
    OPENVINO: open_openvino,
    MNN: open_mnn,
}


class DensePeers:
    """ONNX Runtime, OpenVINO and MNN running one dense torch module on one input."""

    def __init__(self, module: torch.nn.Module, example: torch.Tensor) -> None:
        self.skipped: dict[str, str] = {}
        self.errors: dict[str, float] = {}  # max |peer - eager| / max |eager| of the last check
        self.example = example.contiguous().numpy()
        with torch.no_grad():
            self.reference = module(example).numpy()
        self._folder = tempfile.TemporaryDirectory(prefix="rt3d-bench-")
        folder = Path(self._folder.name)
        # OpenVINO reads and MNN converts the ONNX model, so a failed export skips all three.
        onnx_path = self._attempt((ONNX_RUNTIME, OPENVINO, MNN), "ONNX export", lambda: export_onnx(module, example, folder / "model.onnx"))
        mnn_path = onnx_path and self._attempt((MNN,), "MNN conversion", lambda: convert_to_mnn(onnx_path, folder / "model.mnn"))
        self._models = {ONNX_RUNTIME: onnx_path, OPENVINO: onnx_path, MNN: mnn_path}

    def runners(self, threads: int) -> dict[str, Callable[[], np.ndarray]]:
        """One-inference callables on ``threads`` threads for each peer that opens and matches torch eager."""
        runs = {}
        for peer, open_peer in OPENERS.items():
            if peer not in self.skipped:
                run = self._attempt(
                    (peer,), f"{threads}-thread run",
                    lambda peer=peer, open_peer=open_peer: self._checked(peer, open_peer(self._models[peer], self.example, threads)),
                )
                if run is not None:
                    runs[peer] = run
        return runs

    def close(self) -> None:
        self._folder.cleanup()

    def _checked(self, peer: str, run: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
        scale = float(np.abs(self.reference).max()) or 1.0
        error = float(np.abs(np.asarray(run()) - self.reference).max()) / scale
        self.errors[peer] = error
        if not error <= RELATIVE_TOLERANCE:
            raise ValueError(f"output differs from torch eager by {error:.2g} of its largest value")
        return run

    def _attempt(self, peers: tuple[str, ...], step: str, action: Callable[[], T]) -> T | None:
        try:
            return action()
        except Exception as error:  # a foreign runtime's failure, of any kind, skips that peer with the reason
            first_line = (str(error).strip().splitlines() or [""])[0]
            reason = f"{step} failed: {type(error).__name__}: {first_line}"
            for peer in peers:
                self.skipped[peer] = reason
                print(f"{peer} skipped: {reason}", file=sys.stderr, flush=True)
            return None


def cpuinfo_field(name: str) -> str | None:
    """The first ``name : value`` line of /proc/cpuinfo (Linux), or None where there is none."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def machine_description(target: Target) -> str:
    """The ISA every table is read against: the target (lanes, registers, cores) and the CPU model."""
    cpu = cpuinfo_field("model name") or platform.processor() or platform.machine()
    return (f"target {target.name}: {target.vector_lanes} f32 lanes, {target.vector_registers} vector registers, "
            f"{target.cores} cores; CPU {cpu}")


def current_commit() -> str:
    """The repository's commit (short hash), recorded with every result."""
    result = subprocess.run(["git", "log", "-1", "--format=%h"], capture_output=True, text=True, cwd=Path(__file__).parent)
    return result.stdout.strip()


def summarize(case: dict, times: dict[str, list[float]], macs: dict[str, int], peak_flops: int) -> tuple[list[dict], dict]:
    """Rows per variant and the summary of one measurement of ``case`` (e.g. model and threads).

    ``times`` holds our dense code, the dense peers, the FMA peak microkernel and, where the
    case is pruned, our KGS code; ``macs`` the MACs each variant computes.
    """
    medians = {variant: statistics.median(samples) for variant, samples in times.items()}
    kgs = medians.get(OURS_KGS)
    # The peak is the microkernel's best round: its median, on a loaded machine, would understate it.
    peak_gflops = peak_flops / min(times[FMA_PEAK]) / 1e9
    rows = []
    for variant, samples in times.items():
        if variant == FMA_PEAK:
            continue
        gflops = 2 * macs[variant] / medians[variant] / 1e9
        rows.append({
            **case, "variant": variant, "median_ms": medians[variant] * 1e3,
            "min_ms": min(samples) * 1e3, "max_ms": max(samples) * 1e3, "rounds_ms": [t * 1e3 for t in samples],
            "kgs_faster": medians[variant] / kgs if kgs else None, "vs_ours_dense": medians[variant] / medians[OURS_DENSE],
            "gflops": gflops, "percent_of_fma_peak": 100 * gflops / peak_gflops,
        })
    peers = {variant: medians[variant] for variant in medians if not variant.startswith(OURS) and variant != FMA_PEAK}
    fastest = min(peers, key=peers.__getitem__)
    direct = {peer: median for peer, median in peers.items() if peer not in FAST_CONVOLUTION_PEERS} or peers
    fastest_direct = min(direct, key=direct.__getitem__)
    summary = {
        **case, "fma_peak_gflops": peak_gflops,
        "fastest_dense_peer": fastest,
        "fastest_direct_peer": fastest_direct,
        "ours_dense_over_fastest_peer": medians[OURS_DENSE] / peers[fastest],
        "ours_dense_over_fastest_direct_peer": medians[OURS_DENSE] / direct[fastest_direct],
        "ours_dense_percent_of_fma_peak": 2 * macs[OURS_DENSE] / medians[OURS_DENSE] / 1e9 / peak_gflops * 100,
        "targets": [],
    }
    if MNN in medians:
        summary["over_mnn"] = {variant: medians[MNN] / median for variant, median in medians.items() if variant.startswith(OURS)}
    if kgs:
        summary.update({
            "flops_pruning_rate": macs[OURS_DENSE] / macs[OURS_KGS],
            "kgs_over_ours_dense": medians[OURS_DENSE] / kgs,
            "kgs_over": {peer: median / kgs for peer, median in peers.items()},
            "kgs_over_fastest_peer": peers[fastest] / kgs,
            "kgs_over_fastest_direct_peer": direct[fastest_direct] / kgs,
            "kgs_percent_of_fma_peak": 2 * macs[OURS_KGS] / kgs / 1e9 / peak_gflops * 100,
            # The same ratios from each variant's fastest round, the one least disturbed by other load.
            "best_round_kgs_over_ours_dense": min(times[OURS_DENSE]) / min(times[OURS_KGS]),
            "best_round_kgs_over_fastest_peer": min(min(times[peer]) for peer in peers) / min(times[OURS_KGS]),
        })
    return rows, summary


def check_target(summary: dict, text: str, value: float, bound: float, at_least: bool = True) -> None:
    """Records a target line, e.g. ``KGS over the fastest dense peer >= 2.5x``, met or missed."""
    met = value >= bound if at_least else value <= bound
    summary["targets"].append({"target": text, "value": value, "bound": bound, "met": met})


def print_report(case_label: Callable[[dict], str], rows: list[dict], summaries: list[dict], machine: str) -> None:
    """The table, under ``machine`` (:func:`machine_description`): variant rows per case, then ratios and targets."""
    width = max([18] + [len(case_label(summary)) for summary in summaries])
    header = (f"{'case':<{width}} {'variant':<17} {'median ms':>10} {'min-max ms':>17} {'KGS faster':>10} "
              f"{'/ours dense':>11} {'GFLOP/s':>8} {'% peak':>6}")
    print(machine)
    print(header)
    print("-" * len(header))
    for summary in summaries:
        label = case_label(summary)
        for row in rows:
            if case_label(row) == label:
                kgs_faster = "-" if row["kgs_faster"] is None else f"{row['kgs_faster']:.2f}x"
                print(f"{label:<{width}} {row['variant']:<17} {row['median_ms']:>10.1f} "
                      f"{row['min_ms']:>8.1f}-{row['max_ms']:<8.1f} {kgs_faster:>10} "
                      f"{row['vs_ours_dense']:>10.2f}x {row['gflops']:>8.1f} {row['percent_of_fma_peak']:>5.0f}%")
        print(f"{label:<{width}} FMA peak {summary['fma_peak_gflops']:.1f} GFLOP/s{summary.get('fma_peak_clock', '')}; "
              f"ours dense {summary['ours_dense_percent_of_fma_peak']:.0f}% of it, "
              f"{summary['ours_dense_over_fastest_direct_peer']:.2f}x the time of the fastest direct-convolution "
              f"peer ({summary['fastest_direct_peer']}); fastest dense peer {summary['fastest_dense_peer']}")
        if "kgs_over" in summary:
            peers = ", ".join(f"{peer} {ratio:.2f}x" for peer, ratio in summary["kgs_over"].items())
            print(f"{label:<{width}} FLOPs pruning rate {summary['flops_pruning_rate']:.2f}x, KGS over ours dense "
                  f"{summary['kgs_over_ours_dense']:.2f}x; KGS over {peers}")
            print(f"{label:<{width}} best rounds: KGS over ours dense {summary['best_round_kgs_over_ours_dense']:.2f}x, "
                  f"over the fastest dense peer {summary['best_round_kgs_over_fastest_peer']:.2f}x")
        if "over_mnn" in summary:
            ratios = ", ".join(f"{variant} {ratio:.2f}x" for variant, ratio in summary["over_mnn"].items())
            print(f"{label:<{width}} faster than MNN: {ratios}")
        for target in summary["targets"]:
            print(f"{label:<{width}} target {target['target']}: {target['value']:.2f} -> "
                  f"{'met' if target['met'] else 'MISSED'}")
        print()
