"""Locate the Triton server bundled in the nvidia-pytriton wheel and prepare what it needs to run.

The wheel ships `tritonserver` 2.51, the Python backend (`libtriton_python.so` + utils) and per-Python
stubs. Triton wants one backend directory holding `python/` with the library, the utils AND the stub of
the interpreter that runs `model.py`; the wheel keeps the stubs apart, so we assemble that directory in a
cache folder (never inside site-packages). The stub must load the interpreter's own libpython (pyenv's
`lib/` first on LD_LIBRARY_PATH) and find this venv's `python3` first on PATH.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from tango.runtime.errors import FailedPrecondition


@dataclass(frozen=True)
class BundledTriton:
    """Paths of the server bundled in the nvidia-pytriton wheel."""

    root: Path  # site-packages/pytriton/tritonserver
    libs: Path  # site-packages/nvidia_pytriton.libs

    @property
    def binary(self) -> Path:
        return self.root / "bin" / "tritonserver"

    @property
    def python_backend(self) -> Path:
        return self.root / "backends" / "python"

    @property
    def cache_directory(self) -> Path:
        return self.root / "caches"

    def stub(self, python_version: str) -> Path:
        return self.root / "python_backend_stubs" / python_version / "triton_python_backend_stub"


def find_bundled_triton() -> BundledTriton:
    """The tritonserver of the installed nvidia-pytriton wheel; FailedPrecondition when absent."""
    import importlib.util

    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise FailedPrecondition("nvidia-pytriton is not installed", reason="TRITON_NOT_INSTALLED")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    bundled = BundledTriton(root=package_dir / "tritonserver", libs=package_dir.parent / "nvidia_pytriton.libs")
    if not bundled.binary.is_file():
        raise FailedPrecondition(f"no tritonserver binary at {bundled.binary}", reason="TRITON_NOT_INSTALLED")
    return bundled


def default_backend_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tango" / "triton-backends"


def prepare_backend_directory(bundled: BundledTriton, cache_dir: Path) -> Path:
    """A backend directory `<cache>/<key>/python/{libtriton_python.so, utils, stub}`; returns `<cache>/<key>`.

    The key hashes the source paths and sizes, so a new wheel gets a fresh directory. Built in a
    temporary sibling and renamed into place, so concurrent launchers never see a half-copied one.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    sources = [
        bundled.python_backend / "libtriton_python.so",
        bundled.python_backend / "triton_python_backend_utils.py",
        bundled.stub(version),
    ]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise FailedPrecondition(f"python backend files missing: {missing}", reason="TRITON_NOT_INSTALLED")
    digest = hashlib.sha256("|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sources).encode())
    target = cache_dir / digest.hexdigest()[:16]
    if (target / "python" / sources[-1].name).is_file():
        return target
    staging = cache_dir / f".staging-{os.getpid()}-{digest.hexdigest()[:8]}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "python").mkdir(parents=True)
    for source in sources:
        shutil.copy2(source, staging / "python" / source.name)
    try:
        staging.rename(target)
    except OSError:  # another launcher won the race: its directory is complete
        shutil.rmtree(staging, ignore_errors=True)
    return target


def server_environment(bundled: BundledTriton, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of the tritonserver process: libpython dir, bundled libs, venv bin first on PATH."""
    env = dict(os.environ)
    libpython_dir = sysconfig.get_config_var("LIBDIR") or str(Path(sys.base_prefix) / "lib")
    library_path = [libpython_dir, str(bundled.libs)]
    if env.get("LD_LIBRARY_PATH"):
        library_path.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = ":".join(library_path)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = ":".join([venv_bin, env.get("PATH", "")])
    env.update(extra or {})
    return env
