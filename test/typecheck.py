"""mypy over the installed package, under the module names it is imported by.

pyproject.toml's package-dir installs the top-level folders dialect/, passes/ and tools/ as
rt3d_mlir.dialect, rt3d_mlir.passes and rt3d_mlir.tools. mypy names a file after its folders
and cannot see the editable install's import hook, so plain ``mypy passes`` would check a
module ``passes`` that nothing imports, and every ``from rt3d_mlir.passes import ...`` would
be unresolved. This script hands mypy each installed file with its installed module name; the
options are mypy's own, from [tool.mypy] in pyproject.toml (extra command-line options are
passed on).

    python test/typecheck.py [mypy options]
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

from mypy import build
from mypy.errors import CompileError
from mypy.main import process_options
from mypy.modulefinder import BuildSource

ROOT = Path(__file__).resolve().parent.parent


def package_folder(package: str, package_dir: dict[str, str]) -> Path:
    """The folder setuptools installs ``package`` from: the longest mapped prefix wins."""
    parts = package.split(".")
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        if prefix in package_dir:
            return ROOT / package_dir[prefix] / Path(*parts[length:])
    return ROOT / Path(*parts)


def installed_sources() -> list[BuildSource]:
    """Every module of the packages pyproject.toml installs, with its installed name."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    sources = []
    for package in setuptools["packages"]:
        for path in sorted(package_folder(package, setuptools["package-dir"]).glob("*.py")):
            module = package if path.stem == "__init__" else f"{package}.{path.stem}"
            sources.append(BuildSource(os.path.relpath(path), module))
    return sources


def main(arguments: list[str]) -> int:
    _, options = process_options(arguments, require_targets=False)
    sources = installed_sources()
    try:
        messages = build.build(sources, options).errors
    except CompileError as error:  # a blocking error (a syntax error, say) stops the build
        messages = error.messages
    for message in messages:
        print(message)
    error_count = sum(": error:" in message for message in messages)
    if error_count:
        print(f"mypy: {error_count} errors in {len(sources)} source files")
        return 1
    print(f"mypy: no issues in {len(sources)} source files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
