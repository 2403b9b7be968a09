"""Fixtures of the telemetry store tests: a private VictoriaMetrics per test, a migrated SQLite repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.storage.repository import Repository
from tests.support.services import MigratedTemplates, VictoriaFactory, VictoriaInstance


@pytest.fixture
def victoria_factory(tmp_path: Path) -> Iterator[VictoriaFactory]:
    """Starts private VictoriaMetrics servers; stops them all after the test."""
    factory = VictoriaFactory(tmp_path)
    yield factory
    factory.close()


@pytest.fixture
def victoria(victoria_factory: VictoriaFactory) -> VictoriaInstance:
    """One private VictoriaMetrics (retention 30 days) on a free port."""
    return victoria_factory.start()


@pytest.fixture
def sqlite_repo(tmp_path: Path, migrated_templates: MigratedTemplates) -> Iterator[Repository]:
    """A migrated repository on an SQLite file."""
    repository = Repository.from_url(migrated_templates.sqlite_url(tmp_path))
    yield repository
    repository.close()
