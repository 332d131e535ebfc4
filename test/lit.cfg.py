# lit configuration: IR-level tests of rt3d-opt, checked with FileCheck (PyPI `filecheck`).
import os
import sys

import lit.formats

config.name = "rt3d-mlir"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.excludes = ["python", "Inputs"]
config.test_source_root = os.path.dirname(__file__)

# The tools live next to the Python that runs lit (the project's virtual environment).
tool_dir = os.path.dirname(sys.executable)
config.environment["PATH"] = os.pathsep.join([tool_dir, os.environ.get("PATH", "")])
for name in ("HOME", "TMPDIR"):
    if name in os.environ:
        config.environment[name] = os.environ[name]
config.substitutions.append(("%python", sys.executable))
