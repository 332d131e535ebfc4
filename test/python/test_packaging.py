"""The distribution ships every package of the source tree under the one rt3d_mlir namespace."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_package_is_listed_for_installation():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dirs = setuptools["package-dir"]
    found = set()
    for package, directory in package_dirs.items():
        for init in (ROOT / directory).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / directory).parts
            found.add(".".join((package, *relative)))
    assert found == set(setuptools["packages"])
    assert all(name == "rt3d_mlir" or name.startswith("rt3d_mlir.") for name in found)
