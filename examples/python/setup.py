"""Builds a wheel that carries libworker_cuda.so inside the package, where
worker_cuda's loader looks for it (after ``$WORKER_CUDA_LIBRARY``).

The library to carry is, in order:

* ``$WORKER_CUDA_LIBRARY``: the path of the library file;
* ``$WORKER_CUDA_LIB_DIR``: the folder that holds ``libworker_cuda.so.0``;
* the ``libdir`` of pkg-config's ``worker_cuda`` module (an installed library);
* ``build/`` of the source tree this package sits in (``scripts/build.sh``).

None found, the wheel carries no library and the package finds it at run
time as a source checkout does; ``WORKER_CUDA_REQUIRE_BUNDLE=1`` makes that a
build error instead. A wheel with the library is tagged for this platform
(``py3-none-linux_x86_64``): it holds machine code, though no Python
extension.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Optional

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:  # setuptools >= 70.1 has its own
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # older setuptools: the wheel package's
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
SONAME = "libworker_cuda.so.0"


def _pkg_config_libdir() -> Optional[Path]:
    try:
        out = subprocess.run(
            ["pkg-config", "--variable=libdir", "worker_cuda"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(out) if out else None


def find_library() -> Optional[Path]:
    """The library file to carry, or None."""
    explicit = os.environ.get("WORKER_CUDA_LIBRARY")
    if explicit:
        if not Path(explicit).is_file():
            raise SystemExit(f"WORKER_CUDA_LIBRARY={explicit} is not a file")
        return Path(explicit).resolve()
    folders = []
    if os.environ.get("WORKER_CUDA_LIB_DIR"):
        folders.append(Path(os.environ["WORKER_CUDA_LIB_DIR"]))
    libdir = _pkg_config_libdir()
    if libdir is not None:
        folders.append(libdir)
    folders.append(HERE.parent.parent / "build")
    for folder in folders:
        for name in (SONAME, "libworker_cuda.so"):
            if (folder / name).is_file():
                return (folder / name).resolve()
    if os.environ.get("WORKER_CUDA_REQUIRE_BUNDLE") == "1":
        raise SystemExit("libworker_cuda.so not found to bundle (set WORKER_CUDA_LIBRARY or WORKER_CUDA_LIB_DIR)")
    return None


LIBRARY = find_library()


class BuildPyWithLibrary(build_py):
    """Copies the library into the built package as worker_cuda/libworker_cuda.so.0."""

    def run(self) -> None:
        super().run()
        if LIBRARY is not None:
            target = Path(self.build_lib) / "worker_cuda" / SONAME
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(LIBRARY, target)
            os.chmod(target, 0o755)
            print(f"worker_cuda: bundling {LIBRARY} as {target}")


class BinaryDistribution(Distribution):
    """With the library, the package holds machine code: it is installed to
    platlib and its wheel is not pure."""

    def has_ext_modules(self) -> bool:
        return LIBRARY is not None


class PlatformWheel(bdist_wheel):
    """Tags a wheel with the library for this platform but any Python 3: no
    Python extension is in it."""

    def get_tag(self):  # type: ignore[no-untyped-def]
        if LIBRARY is None:
            return super().get_tag()
        platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        return "py3", "none", platform


setup(distclass=BinaryDistribution, cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel})
