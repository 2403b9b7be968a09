"""The one repository: every read and write of the hub's records, on SQLite or PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cloud.storage.aggregates import AggregateRecords
from cloud.storage.alert_records import AlertRecords
from cloud.storage.base import Database
from cloud.storage.citizens import CitizenRecords, DeclarationRecords
from cloud.storage.devices import ConditionRecords, DeviceRecords, SiteRecords
from cloud.storage.engine import create_hub_engine
from cloud.storage.escalations import EscalationRecords, NotificationRecords
from cloud.storage.events import DeadLetterRecords, EventRecords
from cloud.storage.health import HealthRecords
from cloud.storage.labs import LabRecords
from cloud.storage.officers import OfficerRecords
from cloud.storage.orders import OrderRecords
from cloud.storage.rooms import RoomRecords
from cloud.storage.snapshots import SnapshotRecords
from cloud.storage.telemetry import SqlTelemetryStore
from cloud.storage.tracing import TracingRecords
from cloud.storage.vaccination import VaccinationRecords
from cloud.storage.venues import VenueRecords


class Repository:
    """Records grouped by table family, sharing one engine; `write()` groups several into one transaction.

    Methods that take `conn=None` open their own transaction when none is given; methods whose first
    argument is a connection only run inside the caller's transaction (ingest batches).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.db = Database(engine)
        self.officers = OfficerRecords(self.db)
        self.orders = OrderRecords(self.db)
        self.devices = DeviceRecords(self.db)
        self.conditions = ConditionRecords(self.db)
        self.sites = SiteRecords(self.db)
        self.rooms = RoomRecords(self.db)
        self.events = EventRecords(self.db)
        self.dead_letters = DeadLetterRecords(self.db)
        self.alerts = AlertRecords(self.db)
        self.snapshots = SnapshotRecords(self.db)
        self.citizens = CitizenRecords(self.db)
        self.declarations = DeclarationRecords(self.db)
        self.venues = VenueRecords(self.db)
        self.labs = LabRecords(self.db)
        self.tracing = TracingRecords(self.db)
        self.vaccination = VaccinationRecords(self.db)
        self.aggregates = AggregateRecords(self.db)
        self.health = HealthRecords(self.db)
        self.escalations = EscalationRecords(self.db)
        self.notifications = NotificationRecords(self.db)

    @classmethod
    def from_url(cls, database_url: str) -> Repository:
        """A repository on a new engine for this URL (the schema must exist: see cloud.storage.migrate)."""
        return cls(create_hub_engine(database_url))

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction, committed when the block ends without an exception."""
        with self.db.write() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction."""
        with self.db.read() as conn:
            yield conn

    def telemetry_store(self) -> SqlTelemetryStore:
        """The SQL telemetry store on this database."""
        return SqlTelemetryStore(self.db)

    def ping(self) -> bool:
        """True if the database answers."""
        try:
            with self.read() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
