"""Fixtures of the labelling view and service tests (label sets, review queues)."""

from .labelling_fixtures import hand_set, queue, review_set  # noqa: F401
