"""Differential fuzzing: random small Conv3d models compiled for the host against torch eager.

Hypothesis draws models (1 to 3 Conv3d with 1/3/5 or 1x7x7 kernels, strides, paddings, dilations;
BatchNorm3d, ReLU, MaxPool3d, AvgPool3d between; sometimes a Linear at the end; dense, KGS-zeroed
or all-zero weights; every group shape), described as JSON (see fuzz_models.py). One long-lived
worker process compiles and runs them, so that a crash or a hang of compiled code becomes a failing
example, and the worker is restarted. Each example must either match eager within 1e-4 of
max(1, max |eager|), or be refused by ``rt3d_mlir.compile`` with a one-line UserError. Every failure is
listed at the end with its model and the command that reproduces it.

The default run is a fixed set of examples (``derandomize``). Long campaigns draw at random:

    RT3D_FUZZ_EXAMPLES=300 ./dev.sh run pytest test/python/test_fuzz_models.py -s

``-s`` shows the summary (outcomes, refusals by message, the worst error, the slowest example);
``--hypothesis-seed=N`` repeats a campaign; ``RT3D_FUZZ_TIMEOUT`` is the seconds one example may
take (default 120) before it counts as a hang.
"""

from __future__ import annotations

import collections
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from fuzz_models import Description, describe, problem, relative_error, run_example

WORKER = Path(__file__).with_name("fuzz_models.py")
REPRODUCE = f"./dev.sh run python {WORKER.relative_to(WORKER.parents[2])}"
EXAMPLES = int(os.environ.get("RT3D_FUZZ_EXAMPLES", "0"))
TIMEOUT = float(os.environ.get("RT3D_FUZZ_TIMEOUT", "120"))
DEFAULT_EXAMPLES = 24  # 30 s on a 2-core machine, 90 s when others share it
START_TIMEOUT = 300  # importing torch and MLIR on a busy machine


def ceil_half(value: int) -> int:
    return -(-value // 2)


@st.composite
def conv_layer(draw: st.DrawFn, size: list[int]) -> tuple[dict[str, Any], list[int]]:
    """A Conv3d valid on a D x H x W input of ``size``, and the size it outputs."""
    seven = draw(st.booleans())  # the S3D stem's 1x7x7, else 1, 3 or 5 on each axis
    axes, out = [], []  # (kernel, dilation, padding, stride) per axis
    for axis, extent in enumerate(size):
        k = 7 if seven and axis else 1 if seven else draw(st.sampled_from([1, 3, 5]))
        # every kernel fits with dilation 1 and padding 3 (k <= 7 <= extent + 6): draw what fits
        d = draw(st.sampled_from([d for d in (1, 2) if d * (k - 1) + 1 <= extent + 6]))
        p = draw(st.integers(max(0, ceil_half(d * (k - 1) + 1 - extent)), 3))
        s = draw(st.integers(1, 2))
        axes.append((k, d, p, s))
        out.append((extent + 2 * p - d * (k - 1) - 1) // s + 1)
    kernel, dilation, padding, stride = map(list, zip(*axes))
    layer = {"op": "Conv3d", "out_channels": draw(st.integers(1, 24)), "kernel_size": kernel, "stride": stride,
             "padding": padding, "dilation": dilation, "bias": draw(st.booleans())}
    if draw(st.booleans()):  # KGS-zeroed half the time; kept 0 zeroes the whole layer
        layer.update(kgs=draw(st.sampled_from(["8x4", "4x4", "8x8", "1x1"])),
                     kept=draw(st.sampled_from([0.0, 0.1, 0.3, 0.6])))
    return layer, out


@st.composite
def pool_layer(draw: st.DrawFn, size: list[int]) -> tuple[dict[str, Any], list[int]]:
    """A MaxPool3d or AvgPool3d valid on ``size``, and its output size.

    torch wants padding at most half the kernel and (avg_pool3d) a kernel no larger than the unpadded input.
    """
    op = draw(st.sampled_from(["MaxPool3d", "AvgPool3d"]))
    ceil_mode = draw(st.booleans())
    axes, out = [], []  # (kernel, padding, stride) per axis
    for extent in size:
        k = draw(st.integers(1, min(3, extent)))
        p = draw(st.integers(0, k // 2))
        s = draw(st.integers(1, 2))
        span = extent + 2 * p - k
        windows = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (windows - 1) * s >= extent + p:  # torch drops a last window that starts in the padding
            windows -= 1
        axes.append((k, p, s))
        out.append(windows)
    kernel, padding, stride = map(list, zip(*axes))
    layer = {"op": op, "kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil_mode}
    if op == "AvgPool3d":
        layer["count_include_pad"] = draw(st.booleans())
    return layer, out


@st.composite
def descriptions(draw: st.DrawFn) -> Description:
    """A model and its input: convs, each followed by up to two of norm, ReLU, pools; maybe a Linear."""
    size = [draw(st.integers(1, 20)) for _ in range(3)]
    shape = [draw(st.integers(1, 3)), draw(st.integers(1, 24)), *size]
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        conv, size = draw(conv_layer(size))
        layers.append(conv)
        for op in draw(st.lists(st.sampled_from(["BatchNorm3d", "ReLU", "pool"]), max_size=2)):
            if op == "pool":
                pool, size = draw(pool_layer(size))
                layers.append(pool)
            else:
                layers.append({"op": op})
    if draw(st.booleans()):
        layers.append({"op": "Linear", "out_features": draw(st.integers(1, 16)), "bias": draw(st.booleans())})
    return {"input": shape, "layers": layers, "group_shape": draw(st.sampled_from(["auto", "8x4", "4x4", "1x1"])),
            "threads": draw(st.integers(1, 2)), "seed": draw(st.integers(0, 2**31 - 1))}


class Worker:
    """One worker process (``command``: fuzz_models.py) that answers many examples; started again after a crash or a hang."""

    def __init__(self, command: list[str], env: dict[str, str], stderr_path: Path) -> None:
        self.command = command
        self.env = env
        self.stderr_path = stderr_path
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr: IO[bytes] | None = None
        self.pending = b""

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.stderr = open(self.stderr_path, "wb")  # truncated: one worker's messages at a time
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.stderr, env=self.env, start_new_session=True)
        self.pending = b""
        ready = self.read_line(START_TIMEOUT)
        if not ready or json.loads(ready) != {"outcome": "ready"}:
            raise RuntimeError(f"the fuzz worker did not start: {ready!r}\n{self.stderr_tail(0)}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.stderr.close()
            self.process = None

    def read_line(self, timeout: float) -> bytes | None:
        """The next answer line; None after ``timeout`` seconds, b"" when the worker has exited."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.process.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            if not chunk:
                return b""
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line

    def stderr_tail(self, start: int) -> str:
        self.stderr.flush()
        return self.stderr_path.read_bytes()[start:].decode(errors="replace")[-3000:]

    def run(self, description: Description, timeout: float) -> dict[str, Any]:
        """The worker's answer, or {"outcome": "crashed" | "timeout", ...} (and the worker is stopped);
        "seconds" is the time the example took, without the worker's start-up."""
        if self.process is None:
            self.start()
        started = time.monotonic()
        start = self.stderr_path.stat().st_size
        self.process.stdin.write(json.dumps(description).encode() + b"\n")
        self.process.stdin.flush()
        line = self.read_line(timeout)
        if line:
            return {**json.loads(line), "seconds": time.monotonic() - started}
        if line is None:
            result = {"outcome": "timeout", "after": timeout, "stderr": self.stderr_tail(start)}
        else:
            code = self.process.wait()
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
            result = {"outcome": "crashed", "how": how, "stderr": self.stderr_tail(start)}
        self.stop()
        return {**result, "seconds": time.monotonic() - started}


@dataclass
class Summary:
    """What a run found, for the end of the test (shown with -s, and in the failure message)."""

    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    refusals: collections.Counter[str] = field(default_factory=collections.Counter)
    worst: tuple[float, str] = (0.0, "")  # the largest relative_error of the examples that ran, and the model
    slowest: tuple[float, str] = (0.0, "")
    failures: list[str] = field(default_factory=list)

    def add(self, description: Description, result: dict[str, Any]) -> None:
        failed = problem(result)
        self.outcomes["failed: " + result["outcome"] if failed else result["outcome"]] += 1
        if result["outcome"] == "refused":
            self.refusals[result["message"]] += 1
        if "error" in result:
            self.worst = max(self.worst, (relative_error(result), describe(description)))
        self.slowest = max(self.slowest, (result["seconds"], describe(description)))
        if failed:
            self.failures.append(f"{failed.rstrip()}\nmodel: {describe(description)}\n"
                                 f"reproduce: {REPRODUCE} '{json.dumps(description)}'")

    def __str__(self) -> str:
        lines = [f"{sum(self.outcomes.values())} examples: {dict(self.outcomes)}",
                 *(f"  refused {count}x: {message}" for message, count in self.refusals.most_common()),
                 f"worst relative error {self.worst[0]:.3g}: {self.worst[1]}",
                 f"slowest example {self.slowest[0]:.1f} s: {self.slowest[1]}"]
        return "\n".join(lines)


def test_random_models_match_eager_or_are_refused(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "RT3D_TUNING_CACHE"}
    env["XDG_CACHE_HOME"] = str(tmp_path)  # no tuning cache of this machine, no reproducers in the user's cache
    summary = Summary()
    worker = Worker([sys.executable, str(WORKER)], env, tmp_path / "worker-stderr.txt")

    @settings(max_examples=EXAMPLES or DEFAULT_EXAMPLES, derandomize=not EXAMPLES, database=None,
              deadline=None, phases=[Phase.generate])  # no shrinking: every failure is reported, none replayed
    @given(descriptions())
    def check(description: Description) -> None:
        summary.add(description, worker.run(description, TIMEOUT))

    with worker:
        check()
    print(summary)
    assert not summary.failures, f"{len(summary.failures)} failing examples:\n\n" + "\n\n".join(summary.failures) + f"\n\n{summary}"


# A stand-in worker: answers "ready", then crashes, hangs or answers as each description's "seed" says.
FAKE_WORKER = """
import json, os, signal, sys, time
print(json.dumps({"outcome": "ready"}), flush=True)
for line in sys.stdin:
    action = json.loads(line)["seed"]
    if action == "crash":
        print("dying", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGSEGV)
    if action == "hang":
        time.sleep(60)
    message = "two\\nlines" if action == "bad refusal" else "the compiler cannot do that"
    print(json.dumps({"outcome": "refused", "message": message}), flush=True)
"""


def test_the_worker_turns_crashes_and_hangs_into_failing_examples_and_restarts(tmp_path: Path) -> None:
    def example(action: str) -> Description:
        return {"input": [1, 1, 1, 1, 1], "layers": [], "group_shape": "auto", "threads": 1, "seed": action}

    with Worker([sys.executable, "-c", FAKE_WORKER], dict(os.environ), tmp_path / "stderr.txt") as worker:
        assert problem(worker.run(example("refuse"), 10)) is None
        first = worker.process.pid
        crashed = worker.run(example("crash"), 10)
        assert crashed["outcome"] == "crashed" and crashed["how"] == "signal SIGSEGV" and "dying" in crashed["stderr"]
        assert problem(worker.run(example("refuse"), 10)) is None and worker.process.pid != first
        hung = worker.run(example("hang"), 1)
        assert hung["outcome"] == "timeout" and hung["seconds"] < 10
        assert problem(hung).startswith("no answer in 1 s")
        assert problem(worker.run(example("bad refusal"), 10)).startswith("refused without a one-line message")


def test_a_user_error_is_a_refusal_and_nan_is_wrong() -> None:
    bad_group = {"input": [1, 2, 2, 2, 2], "layers": [{"op": "Conv3d", "out_channels": 2, "kernel_size": [1, 1, 1]}],
                 "group_shape": "8-4", "threads": 1, "seed": 0}
    refused = run_example(bad_group)
    assert refused["outcome"] == "refused" and "group shape must look like 8x4" in refused["message"]
    assert problem(refused) is None
    nan = {"outcome": "ran", "shape": [1], "expected_shape": [1], "error": float("nan"), "scale": 1.0}
    assert problem(nan).startswith("wrong numbers")
