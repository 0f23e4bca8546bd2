"""The service's tables and the engine behind them (SQLite by default, PostgreSQL by URL).

Only portable SQLAlchemy constructs are used, so the same schema runs on both databases.
``migrate`` brings a database of any earlier schema version up to this one, one step at a
time, in one transaction that only one process runs at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    false,
    insert,
    inspect,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

SCHEMA_VERSION = 3
MIGRATION_LOCK_KEY = 0x57A11A50
"""The PostgreSQL advisory lock that keeps two starting processes from migrating at once."""
MIGRATION_TRIES = 5


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_uuid() -> str:
    return str(uuid.uuid4())


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored time as an aware datetime: SQLite hands them back naive, stored in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def iso(moment: datetime) -> str:
    """ISO-8601 with offset."""
    return (as_utc(moment) or moment).isoformat()


class Base(DeclarativeBase):
    pass


class SchemaInfo(Base):
    __tablename__ = "schema_info"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Workspace(Base):
    __tablename__ = "workspaces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class Membership(Base):
    __tablename__ = "workspace_members"
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    user_type: Mapped[str] = mapped_column(String(32))


class HubGroupWorkspace(Base):
    """A workspace that stands for a JupyterHub group (``serve --hub-group-workspaces``):
    its members follow the group's, checked as each signs in."""

    __tablename__ = "hub_group_workspaces"
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    group_name: Mapped[str] = mapped_column(String(255), unique=True)


class Registry(Base):
    __tablename__ = "registries"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    token_encrypted: Mapped[str] = mapped_column(Text)
    token_masked: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RegistryAttachment(Base):
    __tablename__ = "registry_workspaces"
    registry_id: Mapped[str] = mapped_column(
        ForeignKey("registries.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    status: Mapped[str] = mapped_column(String(32))
    visibility: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(Text)
    sha: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(Text)
    framework: Mapped[str] = mapped_column(String(64))
    python_version: Mapped[str] = mapped_column(String(8))
    requirements: Mapped[list] = mapped_column(JSON)
    runtime: Mapped[str] = mapped_column(String(16))
    input_schema: Mapped[str | None] = mapped_column(Text, nullable=True)
    output_schema: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_registry_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    source_model_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_path: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UploadJob(Base):
    """The transfer behind a model version, and the lease of the process running it.

    ``status`` moves with the version's own (``uploading`` -> ``ready`` or ``error``). While
    ``lease_holder`` is set and ``lease_expires_at`` is ahead, that runner alone transfers the
    file; ``lease_generation`` grows with every claim so a claim is one conditional UPDATE.
    """

    __tablename__ = "upload_jobs"
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), index=True)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    bytes_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lease_holder: Mapped[str | None] = mapped_column(String(36), nullable=True)
    lease_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    lease_generation: Mapped[int] = mapped_column(Integer, default=0)


class AuditEvent(Base):
    """Who did what, when. Plain values rather than foreign keys, so the trail outlives the
    users, workspaces and registries it names."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    workspace_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    registry_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    model_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")


def make_engine(database_url: str, pool_size: int | None = None) -> Engine:
    """An engine with the pragmas SQLite needs to behave like a server database.

    ``pool_size`` gives a pool of its own size (the upload runner's, kept apart from the
    routes' pool so transfers never wait on it).
    """
    pool = {} if pool_size is None else {"pool_size": pool_size, "max_overflow": pool_size}
    if database_url.startswith("sqlite"):
        if database_url in ("sqlite://", "sqlite:///:memory:"):
            pool = {}
        engine = create_engine(database_url, connect_args={"check_same_thread": False}, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        return engine
    return create_engine(database_url, pool_pre_ping=True, **pool)


def _backfill_upload_jobs(connection: Connection) -> None:
    """Version 2: every version of an older database was stored whole, so its job is done."""
    versions = ModelVersion.__table__
    jobs = UploadJob.__table__
    known = select(jobs.c.model_version_id)
    done = select(
        versions.c.id,
        versions.c.status,
        versions.c.size,
        versions.c.size,
        literal(1),
        versions.c.created_at,
        versions.c.created_at,
        literal(0),
    ).where(versions.c.id.not_in(known))
    connection.execute(
        insert(jobs).from_select(
            [
                "model_version_id",
                "status",
                "bytes_done",
                "bytes_total",
                "attempts",
                "started_at",
                "finished_at",
                "lease_generation",
            ],
            done,
        )
    )


def _add_columns(connection: Connection, table: type[Base], names: tuple[str, ...]) -> None:
    """ALTER TABLE ... ADD COLUMN for columns the model has and an older table lacks."""
    present = {column["name"] for column in inspect(connection).get_columns(table.__tablename__)}
    for name in names:
        if name in present:
            continue
        column = table.__table__.c[name]
        ddl = f"{column.name} {column.type.compile(dialect=connection.dialect)}"
        if column.server_default is not None:
            ddl += " NOT NULL DEFAULT " + ("FALSE" if isinstance(column.type, Boolean) else "")
        connection.execute(text(f"ALTER TABLE {table.__tablename__} ADD COLUMN {ddl}"))


def _roles_and_credentials(connection: Connection) -> None:
    """Version 3: instance admins, removed users and expiring API tokens."""
    _add_columns(connection, User, ("is_admin", "removed_at"))
    _add_columns(connection, ApiToken, ("expires_at",))


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _backfill_upload_jobs,
    3: _roles_and_credentials,
}
"""Schema version -> the data step that brings a database of the version before up to it;
new tables themselves come from ``create_all``."""


def migrate(engine: Engine) -> None:
    """Create what is missing and step the schema up to this version; refuse a newer one.

    Several processes may start on one database at once: PostgreSQL serializes them with an
    advisory lock; on SQLite a process that lost a race on the schema tries again.
    """
    for attempt in range(MIGRATION_TRIES):
        try:
            with engine.begin() as connection:
                _migrate_in(connection)
            return
        except DBAPIError:
            if attempt == MIGRATION_TRIES - 1 or engine.dialect.name != "sqlite":
                raise
            time.sleep(0.2 * (attempt + 1))


def _migrate_in(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    Base.metadata.create_all(connection)
    info = SchemaInfo.__table__
    found = connection.execute(select(info.c.version).where(info.c.id == 1)).scalar()
    if found is None:
        connection.execute(insert(info).values(id=1, version=SCHEMA_VERSION))
        return
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"the database schema is version {found}, newer than this "
            f"wallaroo-registry-ui understands ({SCHEMA_VERSION}); upgrade the package"
        )
    for step in range(found + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[step](connection)
    if found < SCHEMA_VERSION:
        connection.execute(update(info).where(info.c.id == 1).values(version=SCHEMA_VERSION))


def open_store(database_url: str) -> sessionmaker:
    """Engine, schema and session factory in one step, for the app and the CLI."""
    engine = make_engine(database_url)
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)
