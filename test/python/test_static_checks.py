"""test/typecheck.py hands mypy each installed file under the name it is imported by."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _typecheck_module():
    spec = importlib.util.spec_from_file_location("typecheck", ROOT / "test" / "typecheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mypy_sources_are_the_installed_modules():
    sources = _typecheck_module().installed_sources()
    by_module = {source.module: (ROOT / source.path).resolve() for source in sources}
    assert len(by_module) == len(sources)
    # the folders that package-dir renames keep their installed names
    assert by_module["rt3d_mlir.passes.base"] == ROOT / "passes" / "base.py"
    assert by_module["rt3d_mlir.dialect"] == ROOT / "dialect" / "__init__.py"
    assert by_module["rt3d_mlir.backends.vulkan.runner"] == ROOT / "rt3d_mlir" / "backends" / "vulkan" / "runner.py"
    for module, path in by_module.items():
        assert Path(importlib.util.find_spec(module).origin).resolve() == path, module
    on_disk = {path.resolve() for folder in ("rt3d_mlir", "dialect", "passes", "tools") for path in (ROOT / folder).rglob("*.py")}
    assert set(by_module.values()) == on_disk
