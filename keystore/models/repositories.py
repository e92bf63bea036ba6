"""Watched git repositories, their scan runs, and what each run found."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from keystore.models.base import Base, UTCDateTime, utcnow


class WatchedRepository(Base):
    __tablename__ = "watched_repositories"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    # Branch patterns (``main``, ``release/*``); empty: every ref of the repository.
    branches: Mapped[list[str]] = mapped_column(JSON, default=list)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    # The NAME of an environment variable holding an access token — never the token itself.
    credentials_env: Mapped[str | None] = mapped_column(String(100))
    # The host that token was registered for: it is sent nowhere else, whatever the URL says.
    credentials_host: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The ref tips the last successful scan covered (scanner.ScanState JSON).
    scan_state: Mapped[str | None] = mapped_column(Text)
    last_scan_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_scan_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    runs: Mapped[list[ScanRun]] = relationship(
        back_populates="repository",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ScanRun.id.desc()",
    )


class ScanRun(Base):
    __tablename__ = "scan_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("watched_repositories.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | manual
    # running | succeeded | failed; indexed for the schedule's sweep of lost runs.
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    full_scan: Mapped[bool] = mapped_column(Boolean, default=False)
    objects_read: Mapped[int] = mapped_column(Integer, default=0)
    findings_count: Mapped[int] = mapped_column(Integer, default=0)
    ours_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Why a run failed, as a stable code (timeout, address_not_allowed, fetch_failed, ...).
    reason: Mapped[str | None] = mapped_column(String(40))

    repository: Mapped[WatchedRepository] = relationship(back_populates="runs")
    findings: Mapped[list[ScanFinding]] = relationship(
        back_populates="run",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ScanFinding.id",
    )


class ScanFinding(Base):
    """A token seen in a repository: where, its hint and digest — never the token."""

    __tablename__ = "scan_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scan_runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    commit: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(Integer)
    hint: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    ours: Mapped[bool] = mapped_column(Boolean, default=False)

    run: Mapped[ScanRun] = relationship(back_populates="findings")
