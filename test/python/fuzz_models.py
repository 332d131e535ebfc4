"""Small random Conv3d models from JSON descriptions, compiled for the host and run beside torch eager.

test_fuzz_models.py draws the descriptions and runs this file as a long-lived worker process:
it reads one description a line on stdin and answers one JSON result a line, so that a crash or
a hang in compiled code takes down the worker, not pytest. Given a description as its argument,
it runs that one example in this process instead, to reproduce a failure (exit status 1 when
the result is wrong):

    ./dev.sh run python test/python/fuzz_models.py '{"input": [1, 2, 4, 4, 4], "layers": [...], ...}'

A description (all lists are per axis D, H, W)::

    {"input": [N, C, D, H, W], "group_shape": "auto" | "8x4" | ..., "threads": 1, "seed": 7,
     "layers": [{"op": "Conv3d", "out_channels": 8, "kernel_size": [1, 7, 7], "stride": [...],
                 "padding": [...], "dilation": [...], "bias": true, "kgs": "8x4", "kept": 0.3},
                {"op": "BatchNorm3d"}, {"op": "ReLU"},
                {"op": "MaxPool3d", "kernel_size": [...], "stride": [...], "padding": [...], "ceil_mode": false},
                {"op": "AvgPool3d", ..., "count_include_pad": true}, {"op": "Linear", "out_features": 5, "bias": true}]}

A conv's weights are dense without "kgs"; with it, each kernel group of that shape keeps a random
``kept`` fraction of its kernel positions (0: the whole layer is zero). Every value comes from ``seed``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

import torch
from torch import nn

import rt3d_mlir
from rt3d_mlir.conv_module import random_kgs_weight
from rt3d_mlir.errors import UserError
from rt3d_mlir.groups import GroupShape

Description = dict[str, Any]
RELATIVE_ERROR = 1e-4  # of max(1, max |eager|): see relative_error
# the keys of a layer that are not arguments of its torch module
NOT_ARGUMENTS = ("op", "kgs", "kept")


def layer_text(layer: dict[str, Any]) -> str:
    """One layer as a line of Python, e.g. ``Conv3d(out_channels=8, kernel_size=(1, 7, 7)) KGS 8x4 kept 0.3``."""
    arguments = ", ".join(f"{key}={tuple(value) if isinstance(value, list) else value!r}"
                          for key, value in layer.items() if key not in NOT_ARGUMENTS)
    weights = f"  # weights KGS {layer['kgs']}, kept {layer['kept']}" if "kgs" in layer else ""
    flatten = "Flatten(), " if layer["op"] == "Linear" else ""
    return f"{flatten}{layer['op']}({arguments}){weights}"


def describe(description: Description) -> str:
    """The model, input and options in a few readable lines (the JSON is what reproduces it)."""
    layers = "\n".join(f"  {layer_text(layer)}" for layer in description["layers"])
    return (f"input {tuple(description['input'])}, group_shape={description['group_shape']!r}, "
            f"threads={description['threads']}, seed={description['seed']}\n{layers}")


def build(description: Description) -> tuple[nn.Module, torch.Tensor]:
    """The eval-mode model and its input; the weights, norms' statistics and input all come from the seed."""
    generator = torch.Generator().manual_seed(description["seed"])
    example = torch.randn(description["input"], generator=generator)
    model = nn.Sequential()
    shape = example.shape
    for layer in description["layers"]:
        arguments = {key: tuple(value) if isinstance(value, list) else value
                     for key, value in layer.items() if key not in NOT_ARGUMENTS}
        channels = shape[1]
        if layer["op"] == "Conv3d":
            module = nn.Conv3d(channels, **arguments)
            weight_shape = module.weight.shape
            weight = (random_kgs_weight(weight_shape, GroupShape.parse(layer["kgs"]), layer["kept"], generator)
                      if "kgs" in layer else torch.randn(weight_shape, generator=generator))
            # unit-scale activations whatever the fan-in, so that one error bound fits every layer
            module.weight.data = weight / weight[0].numel() ** 0.5
            if module.bias is not None:
                module.bias.data = torch.randn(module.bias.shape, generator=generator)
        elif layer["op"] == "BatchNorm3d":
            module = nn.BatchNorm3d(channels)
            module.running_mean.uniform_(-0.5, 0.5, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
            module.bias.data.uniform_(-0.5, 0.5, generator=generator)
        elif layer["op"] == "Linear":
            model.append(nn.Flatten())
            module = nn.Linear(shape[1:].numel(), **arguments)
            module.weight.data = torch.randn(module.weight.shape, generator=generator) / module.in_features**0.5
            if module.bias is not None:
                module.bias.data = torch.randn(module.bias.shape, generator=generator)
        else:
            module = getattr(nn, layer["op"])(**arguments)
        model.append(module)
        with torch.no_grad():
            shape = model(torch.zeros(example.shape)).shape
    return model.eval(), example


def run_example(description: Description) -> dict[str, Any]:
    """Eager and compiled outputs compared; the compile's UserError is reported as a refusal.

    Any other exception propagates (the worker reports it as "raised", with its traceback).
    """
    model, example = build(description)
    with torch.no_grad():
        expected = model(example)
    try:
        compiled = rt3d_mlir.compile(model, example, target="host", group_shape=description["group_shape"],
                                     threads=description["threads"])
    except UserError as error:
        return {"outcome": "refused", "message": str(error)}
    got = compiled(example)
    result = {"outcome": "ran", "shape": list(got.shape), "expected_shape": list(expected.shape)}
    if got.shape == expected.shape:
        result.update(error=float((got - expected).abs().max()), scale=float(expected.abs().max()))
    return result


def relative_error(result: dict[str, Any]) -> float:
    """max |compiled - eager| over max(1, max |eager|). The layers keep activations near unit size, so a
    smaller output comes from cancelling unit-size terms, whose float32 rounding is what the bound allows."""
    return result["error"] / max(1.0, result["scale"])


def problem(result: dict[str, Any]) -> str | None:
    """What is wrong with an example's result, or None when it matched eager or was refused properly.

    ``result`` is run_example's, the worker's "raised", or the test's "crashed" or "timeout".
    """
    outcome = result["outcome"]
    if outcome == "ran":
        if result["shape"] != result["expected_shape"]:
            return f"wrong shape: {result['shape']}, eager {result['expected_shape']}"
        if not relative_error(result) <= RELATIVE_ERROR:  # NaN fails too
            return f"wrong numbers: max |compiled - eager| = {result['error']:.3g}, max |eager| = {result['scale']:.3g}"
        return None
    if outcome == "refused":
        message = result["message"].strip()
        return None if message and "\n" not in message else f"refused without a one-line message: {message!r}"
    if outcome == "raised":
        return f"raised {result['exception']}\n{result['traceback']}"
    if outcome == "crashed":
        return f"the worker died ({result['how']})\n{result['stderr']}"
    return f"no answer in {result['after']:g} s (a hang, or a very slow compile)\n{result['stderr']}"


def serve() -> None:
    """The worker loop. Answers go to a private copy of stdout, and fd 1 goes to stderr, so that
    whatever the libraries print (C code included) cannot corrupt the answers."""
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    torch.set_num_threads(1)  # the reference is tiny; the compiled code gets the description's threads
    print(json.dumps({"outcome": "ready"}), file=answers, flush=True)
    for line in sys.stdin:
        try:
            result = run_example(json.loads(line))
        except Exception as error:
            result = {"outcome": "raised", "exception": f"{type(error).__name__}: {error}",
                      "traceback": traceback.format_exc()}
        print(json.dumps(result), file=answers, flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        one = json.loads(sys.argv[1])
        print(describe(one))
        outcome = run_example(one)
        print(json.dumps(outcome))
        wrong = problem(outcome)
        print(wrong or "ok: " + ("refused" if outcome["outcome"] == "refused" else "matches eager"))
        sys.exit(1 if wrong else 0)
    else:
        serve()
