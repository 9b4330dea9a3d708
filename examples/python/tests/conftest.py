"""Fixtures: a CPU context, and the real SmolLM2 model fetched by
scripts/fetch-models.sh."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

import worker_cuda

REPO_ROOT = Path(__file__).resolve().parents[3]
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture
def ctx() -> Iterator[worker_cuda.Context]:
    with worker_cuda.Context(worker_cuda.DEVICE_CPU) as context:
        yield context


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The model in $WORKER_MODEL_CACHE (else ~/.cache/worker_cuda/models).
    Missing, the test is skipped, or fails when WORKER_TEST_REQUIRE_MODELS=1
    (as in CI)."""
    cache = Path(os.environ.get("WORKER_MODEL_CACHE", Path.home() / ".cache/worker_cuda/models"))
    path = cache / SMOLLM2
    if not path.is_file():
        if os.environ.get("WORKER_TEST_REQUIRE_MODELS") == "1":
            pytest.fail(f"{path} is missing (run scripts/fetch-models.sh)")
        pytest.skip(f"{path} not fetched (run scripts/fetch-models.sh)")
    return path


@pytest.fixture(scope="module")
def model(model_path: Path) -> Iterator[worker_cuda.Model]:
    context = worker_cuda.Context(worker_cuda.DEVICE_CPU)
    loaded = context.load_model(model_path)
    yield loaded
    loaded.close()
    context.close()
