"""Fixtures of the labelling view and service tests (label sets, review queues)."""

import pytest

from .labelling_fixtures import hand_set, queue, review_set  # noqa: F401


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(settings, tmp_path):
    """Uploads and exports of file jobs go under the test's own folder."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
