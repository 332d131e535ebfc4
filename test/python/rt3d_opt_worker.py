"""A long-lived ``rt3d-opt``: runs ``rt3d_opt.main(argv)`` once per request, as the console script would.

Started by test_rt3d_opt_fuzz.py, so that each mutant costs its own run and not a
Python start-up. Requests arrive one JSON line each on stdin::

    {"argv": [...], "stdout": PATH, "stderr": PATH}

and each gets one JSON line back, ``{"status": N}``, once the run has ended.
File descriptors 1 and 2 (not just ``sys.stdout``/``sys.stderr``) point at the two
files during the run, so MLIR's own C++ output is captured too; fd 0 is /dev/null.
The exit status is what ``sys.exit(main())`` would give, and an exception that
escapes ``main`` prints its traceback and gives 1, as Python does. A crash takes
the worker down: the parent sees its signal and starts another.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback

# Mutants with huge shapes must hit MemoryError here, not the memory of a shared machine.
MEMORY_LIMIT_BYTES = int(os.environ.get("RT3D_FUZZ_MEMORY_LIMIT", str(8 << 30)))


def exit_status(code: object) -> int:
    """The process exit status of ``sys.exit(code)``; a non-integer is printed to stderr, as Python does."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run_once(argv: list[str]) -> int:
    from rt3d_mlir.tools import rt3d_opt

    try:
        return exit_status(rt3d_opt.main(argv))
    except SystemExit as stop:
        return exit_status(stop.code)
    except BaseException:  # what an uncaught exception does to the console script
        traceback.print_exc()
        return 1


def serve() -> None:
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    sys.stdin = open(os.devnull)
    from rt3d_mlir.tools import rt3d_opt  # noqa: F401  imported before the first request times its run

    replies.write(json.dumps({"ready": os.getpid()}) + "\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        with open(request["stdout"], "wb") as out, open(request["stderr"], "wb") as err:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            try:
                status = run_once(request["argv"])
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(null, 1)
                os.dup2(null, 2)
        replies.write(json.dumps({"status": status}) + "\n")
        replies.flush()


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    serve()
