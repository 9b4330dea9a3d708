"""Finding and loading the library, and the prototypes of its functions."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import worker_cuda
from worker_cuda import _library

from conftest import REPO_ROOT


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60
    )


def test_every_exported_function_has_a_prototype() -> None:
    exports = (REPO_ROOT / "src/ffi/exports.map").read_text()
    names = set(re.findall(r"\b(cuda_\w+);", exports))
    assert len(names) == 27
    assert set(_library._PROTOTYPES) == names
    lib = worker_cuda.library()
    for name in names:
        function = getattr(lib, name)
        assert function.argtypes is not None, name
        assert function.restype is _library._PROTOTYPES[name][0], name


def test_the_params_struct_matches_the_c_layout() -> None:
    params = _library.WorkerInferenceParams
    assert ctypes.sizeof(params) == 64
    assert [params.seed.offset, params.top_k.offset, params.stop.offset, params.n_stop.offset] == [16, 24, 40, 48]
    assert [params.parse_special.offset, params.logprobs.offset, params.top_logprobs.offset] == [52, 56, 60]


def offsets(struct: type) -> list:
    return [getattr(struct, name).offset for name, _ in struct._fields_]


def test_the_0_3_structs_match_the_c_layout() -> None:
    # Worked out by hand from worker_types.h for LP64 (x86-64, aarch64 Linux).
    assert ctypes.sizeof(_library.WorkerInferenceInfo) == 24
    assert offsets(_library.WorkerInferenceInfo) == [0, 4, 8, 12, 16, 20]
    assert ctypes.sizeof(_library.WorkerTokenLogprob) == 8
    assert ctypes.sizeof(_library.WorkerModelInfo) == 104
    assert offsets(_library.WorkerModelInfo) == [0, 8, 16, 24, 32, 40, 44, 48, 52, 56, 64, 68, 72, 76, 80, 88, 96]
    assert ctypes.sizeof(_library.WorkerChatMessage) == 16
    assert ctypes.sizeof(_library.WorkerChatParams) == 32
    assert offsets(_library.WorkerChatParams) == [0, 4, 8, 16, 24]


def test_finish_reasons_have_the_c_values() -> None:
    assert [reason.code for reason in worker_cuda.FinishReason] == [0, 1, 2, 3, 4, 5]
    assert worker_cuda.FinishReason.from_code(3) is worker_cuda.FinishReason.STOP
    assert worker_cuda.FinishReason.from_code(77) is worker_cuda.FinishReason.ERROR
    assert worker_cuda.FinishReason.MAX_TOKENS == "max_tokens"


def test_a_bundled_library_is_preferred_to_the_system_one(tmp_path: Path) -> None:
    """A package folder that holds libworker_cuda.so.0 (as the wheel installs
    it) loads that copy when WORKER_CUDA_LIBRARY is not set."""
    if "WORKER_CUDA_LIBRARY" not in os.environ:
        pytest.skip("needs the library under test in WORKER_CUDA_LIBRARY")
    package = tmp_path / "worker_cuda"
    shutil.copytree(Path(worker_cuda.__file__).parent, package, ignore=shutil.ignore_patterns("*.so*", "__pycache__"))
    shutil.copyfile(os.environ["WORKER_CUDA_LIBRARY"], package / "libworker_cuda.so.0")
    env = {k: v for k, v in os.environ.items() if k not in ("WORKER_CUDA_LIBRARY", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", "import worker_cuda; print(worker_cuda.library()._name)"],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str((package / "libworker_cuda.so.0").resolve())
    # The variable still wins: it is the caller's explicit choice.
    env["WORKER_CUDA_LIBRARY"] = "/nonexistent/libworker_cuda.so"
    result = subprocess.run(
        [sys.executable, "-c", "import worker_cuda; worker_cuda.library()"],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode != 0 and "/nonexistent/libworker_cuda.so" in result.stderr


def test_the_library_has_the_expected_major_version() -> None:
    major, minor, patch = worker_cuda.api_version()
    assert major == worker_cuda.API_MAJOR
    assert (minor, patch) >= (1, 0)


def test_a_missing_library_is_a_clear_error() -> None:
    result = run_python(
        "import worker_cuda\n"
        "try:\n"
        "    worker_cuda.Context()\n"
        "except worker_cuda.LibraryLoadError as e:\n"
        "    print('LibraryLoadError:', e)\n",
        WORKER_CUDA_LIBRARY="/nonexistent/libworker_cuda.so",
    )
    assert result.returncode == 0, result.stderr
    assert "LibraryLoadError:" in result.stdout
    assert "/nonexistent/libworker_cuda.so" in result.stdout
    assert "WORKER_CUDA_LIBRARY" in result.stdout


def test_a_library_of_another_major_version_is_refused() -> None:
    result = run_python(
        "import worker_cuda, worker_cuda._library as L\n"
        "L.API_MAJOR = 7\n"
        "try:\n"
        "    worker_cuda.library()\n"
        "except worker_cuda.LibraryLoadError as e:\n"
        "    print('LibraryLoadError:', e)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "needs major version 7" in result.stdout


def test_the_library_is_found_by_soname_without_the_variable(tmp_path: Path) -> None:
    if "WORKER_CUDA_LIBRARY" not in os.environ:
        pytest.skip("the library under test is the installed one")
    library = Path(os.environ["WORKER_CUDA_LIBRARY"]).resolve()
    soname = tmp_path / f"libworker_cuda.so.{worker_cuda.API_MAJOR}"
    soname.symlink_to(library)
    env = {k: v for k, v in os.environ.items() if k != "WORKER_CUDA_LIBRARY"}
    env["LD_LIBRARY_PATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", "import worker_cuda; print(worker_cuda.library()._name)"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == soname.name
