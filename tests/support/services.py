"""Private instances of the real services the tests need, each on a free loopback port.

Under CI=true a missing service is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from qmon.mosquitto import MosquittoInstance, mosquitto_binary, start_mosquitto, wait_for_port
from qmon.victoria import VictoriaInstance, start_victoria, victoria_binary

__all__ = [
    "MigratedTemplates",
    "MosquittoFactory",
    "MosquittoInstance",
    "VictoriaFactory",
    "VictoriaInstance",
    "postgres_database",
    "require",
    "wait_for_port",
]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("QMON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def require(condition: bool, what: str) -> None:
    """Skip (locally) or fail (under CI=true) when a real service the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is missing", pytrace=False)
    pytest.skip(f"{what} is not available")


class MosquittoFactory:
    """Starts private Mosquitto processes on free ports, optionally with accounts and qmon's topic ACL."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.instances: list[MosquittoInstance] = []

    def start(
        self,
        accounts: dict[str, str] | None = None,
        hub_users: list[str] | None = None,
        port: int | None = None,
        tls: tuple[Path, Path, Path] | None = None,
        persistent: bool = False,
    ) -> MosquittoInstance:
        """Start one broker; with `accounts` (user -> password) anonymous access is off and the ACL is on.

        `persistent` keeps sessions and queued messages across restart() (Mosquitto's persistence).
        """
        require(mosquitto_binary() is not None, "mosquitto (Debian package mosquitto)")
        data = None
        if persistent:
            data = self.workdir / f"mosquitto-data-{uuid.uuid4().hex[:6]}"
            data.mkdir()
        instance = start_mosquitto(
            self.workdir, accounts=accounts, hub_users=hub_users, port=port, tls=tls, persistence_dir=data
        )
        self.instances.append(instance)
        return instance

    def restart(self, instance: MosquittoInstance) -> MosquittoInstance:
        """Start a new broker on the same port with the same accounts (after stop())."""
        instance.stop()
        self.instances.remove(instance)
        return self.start(
            accounts=instance.accounts or None, hub_users=instance.hub_users, port=instance.port
        )

    def close(self) -> None:
        """Stop every broker started."""
        for instance in self.instances:
            instance.stop()


class VictoriaFactory:
    """Starts private VictoriaMetrics servers (the InfluxDB-protocol telemetry store) on free ports."""

    RETENTION = "30d"  # the tests' server retention; the stores under test are told the same (30 days)

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.instances: list[VictoriaInstance] = []

    def start(self, retention: str = RETENTION) -> VictoriaInstance:
        """Start one server with its own data directory; returns once /health answers."""
        require(victoria_binary() is not None, "victoria-metrics (Debian package victoria-metrics)")
        instance = start_victoria(self.workdir, retention=retention)
        self.instances.append(instance)
        return instance

    def restart(self, instance: VictoriaInstance) -> VictoriaInstance:
        """Start a server again on the same port and data directory (after stop()): the data comes back."""
        instance.stop()
        self.instances.remove(instance)
        again = start_victoria(
            self.workdir,
            port=instance.port,
            storage=instance.storage,
            retention=instance.retention,
            extra_args=instance.extra_args,
        )
        self.instances.append(again)
        return again

    def close(self) -> None:
        """Stop every server started."""
        for instance in self.instances:
            instance.stop()


def postgres_available() -> bool:
    """True if the PostgreSQL server for tests answers."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def sqlalchemy_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the tests' PostgreSQL server."""
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


@contextmanager
def postgres_database(template: str | None = None) -> Iterator[str]:
    """Create a fresh database (a copy of `template` if given), yield its SQLAlchemy URL; drop it after."""
    import psycopg

    require(postgres_available(), f"PostgreSQL at {PG_ADMIN_URL}")
    name = f"qmon_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield sqlalchemy_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class MigratedTemplates:
    """Databases migrated to the head revision once per test session, copied for each test that needs one.

    Copying a migrated SQLite file or creating a PostgreSQL database from a migrated template takes a
    fraction of running the migrations again (about 0.5 s on PostgreSQL) for each of some 400 tests."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._sqlite: Path | None = None
        self._postgres: str | None = None

    def sqlite_url(self, directory: Path) -> str:
        """The URL of a new migrated SQLite file in `directory`."""
        from cloud.storage.migrate import upgrade

        if self._sqlite is None:
            template = self._workdir / "template.db"
            upgrade(f"sqlite:///{template}")
            self._sqlite = template
        target = directory / "hub.db"
        shutil.copyfile(self._sqlite, target)
        return f"sqlite:///{target}"

    @contextmanager
    def postgres_url(self) -> Iterator[str]:
        """A new migrated PostgreSQL database (dropped afterwards)."""
        import psycopg

        from cloud.storage.migrate import upgrade

        if self._postgres is None:
            require(postgres_available(), f"PostgreSQL at {PG_ADMIN_URL}")
            name = f"qmon_template_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            self._postgres = name
            upgrade(sqlalchemy_url(name))  # disposes its engine: no session is left on the template
        with postgres_database(template=self._postgres) as url:
            yield url

    def close(self) -> None:
        """Drop the PostgreSQL template."""
        if self._postgres is not None:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._postgres}" WITH (FORCE)')
            self._postgres = None
