"""The projection tables: the views the API reads, and the jobs that rebuild and verify them
(``projection_jobs``, at the end: not bitemporal).

Each table is bitemporal on the recording axis. A row version is what the log said about one
thing (an agreement, an allegation, a mission) from ``known_from`` (the ``recorded_at`` of the
event that made it) until ``known_until`` (the ``recorded_at`` of the event that superseded it;
NULL while current). Nothing is overwritten: a collapse, a retraction or a correction closes the
current version and inserts the next one. That is what lets ``known_at`` queries ask what the
log said at any moment with an indexed lookup instead of a replay. The pair of columns is
``projections.bitemporal.known_between``, and reading them at a ``known_at`` is the rest of
that module.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    false,
    text,
)

from events.log.tables import UtcDateTime, metadata
from projections.bitemporal import known_between

__all__ = [
    "PROJECTION_KEYS",
    "actors",
    "agreements",
    "allegations",
    "corrections",
    "descriptions",
    "extensions",
    "lulls",
    "milestone_updates",
    "milestones",
    "mission_ends",
    "missions",
    "projection_jobs",
    "reports",
]


agreements = Table(
    "proj_agreements",
    metadata,
    Column("conflict", String(64), nullable=False),
    Column("agreement_id", String(64), nullable=False),
    Column("parties", Text, nullable=False),
    Column("mediators", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("terms", Text, nullable=True),
    Column("signed_at", UtcDateTime, nullable=False),
    Column("effective_at", UtcDateTime, nullable=False),
    Column("collapsed_at", UtcDateTime, nullable=True),
    Column("collapse_reason", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("event_id", Uuid, nullable=False),
    *known_between(),
    # 0005: fixed terms, scope, unilateral declarations. expires_at is the end as signed;
    # extensions are rows of proj_extensions, each from its own occurred_at.
    Column("expires_at", UtcDateTime, nullable=True),
    Column("scope_level", String(16), nullable=False, server_default="national"),
    Column("scope_area", String(200), nullable=True),
    Column("unilateral", Boolean, nullable=False, server_default=false()),
    Column("declared_by", String(200), nullable=True),
    # 0011: each agreement.repudiated (a JSON list of {party, never_agreed, occurred_at,
    # statement}; NULL: none). A repudiation closes the row version like a correction.
    # departed_at: the occurred_at of the latest departure recorded; every version known
    # holds one departure's, which is how the freshness check finds each withdrawal's instant.
    Column("departures", Text, nullable=True),
    Column("departed_at", UtcDateTime, nullable=True),
)
Index("ix_proj_agreements_key", agreements.c.conflict, agreements.c.agreement_id)

#: Each ``agreement.extended``: the agreement's end from the extension's occurred_at on.
extensions = Table(
    "proj_extensions",
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("conflict", String(64), nullable=False),
    Column("agreement_id", String(64), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=True),
    Column("version", Integer, nullable=False),
    *known_between(),
)
Index("ix_proj_extensions_key", extensions.c.event_id)
Index("ix_proj_extensions_conflict", extensions.c.conflict, extensions.c.agreement_id)

allegations = Table(
    "proj_allegations",
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("conflict", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    # The agreement the writer named (0005: NULL when none; which agreement an allegation
    # naming none belongs to is decided when a view is read, see projections.filing).
    Column("agreement_id", String(64), nullable=True),
    Column("agreement_implicit", Boolean, nullable=False),
    Column("alleged_by", String(200), nullable=False),
    Column("accused", String(200), nullable=False),
    Column("incidents", Integer, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("location", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("casualties_claimed", Text, nullable=True),
    Column("source", Text, nullable=False),
    Column("retracted", Boolean, nullable=False),
    *known_between(),
    # 0005: the accused as matched against parties (casefolded); when the retraction and the
    # denial occurred, so a view at an earlier as_of does not see them.
    Column("accused_key", String(200), nullable=False, server_default=""),
    Column("retracted_at", UtcDateTime, nullable=True),
    Column("denied_at", UtcDateTime, nullable=True),
    Column("denied_by", String(200), nullable=True),
    # 0013: an ongoing violation's end (its own ended_at, or an incident.ended's: then
    # ended_later, so the fold's state can be loaded back).
    Column("ended_at", UtcDateTime, nullable=True),
    Column("ended_later", Boolean, nullable=False, server_default=false()),
    # 0015: recorded as still going on (its end unknown then): with ended_at NULL it goes on
    # through every as_of; an incident.ended's row version gives ended_at and keeps this.
    Column("ongoing", Boolean, nullable=False, server_default=false()),
)
Index("ix_proj_allegations_key", allegations.c.event_id)
Index("ix_proj_allegations_time", allegations.c.conflict, allegations.c.occurred_at)
Index(
    "ix_proj_allegations_agreement",
    allegations.c.conflict,
    allegations.c.agreement_id,
    allegations.c.occurred_at,
)

missions = Table(
    "proj_missions",
    metadata,
    Column("conflict", String(64), nullable=False),
    Column("mission_id", String(64), nullable=False),
    Column("organization", String(200), nullable=False),
    Column("head", String(200), nullable=True),
    Column("purpose", Text, nullable=True),
    Column("expected_arrival", UtcDateTime, nullable=True),
    Column("dispatched_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False),
    *known_between(),
    # 0005: the agreement it monitors.
    Column("agreement_id", String(64), nullable=True),
    # 0009: the other organizations running it (a JSON list; NULL: none).
    Column("organizations", Text, nullable=True),
)
Index("ix_proj_missions_key", missions.c.conflict, missions.c.mission_id)

#: Each ``mission.ended`` (0005): a mission is active from its dispatch until its end.
mission_ends = Table(
    "proj_mission_ends",
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("conflict", String(64), nullable=False),
    Column("mission_id", String(64), nullable=False),
    Column("ended_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=True),
    Column("version", Integer, nullable=False),
    *known_between(),
)
Index("ix_proj_mission_ends_key", mission_ends.c.event_id)
Index("ix_proj_mission_ends_conflict", mission_ends.c.conflict, mission_ends.c.mission_id)

#: Which correction each corrected event carries: the current version names the latest one.
#: The fold's state is loaded from here (``ConflictState.revisions``).
corrections = Table(
    "proj_corrections",
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("conflict", String(64), nullable=False),
    Column("correction_id", Uuid, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    *known_between(),
)
Index("ix_proj_corrections_key", corrections.c.event_id)
Index("ix_proj_corrections_conflict", corrections.c.conflict)

#: Each ``conflict.described``: a conflict's title, summary, countries (a JSON list of ISO 3166-1
#: alpha-2 codes) and region, as the latest description recorded says (0010).
descriptions = Table(
    "proj_descriptions",
    metadata,
    Column("conflict", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("summary", Text, nullable=True),
    Column("countries", Text, nullable=False),
    Column("region", String(200), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    *known_between(),
)
Index("ix_proj_descriptions_key", descriptions.c.conflict)

#: A conflict's actors (0009): one row version per actor, changed when an event names it
#: earlier than before (``since``) or registers it (its kind, its aliases). Its roles are read
#: from the agreements and missions that name it. The fold's state is loaded from here
#: (``ConflictState.actors``).
actors = Table(
    "proj_actors",
    metadata,
    Column("conflict", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=True),
    Column("aliases", Text, nullable=False),
    Column("since", UtcDateTime, nullable=False),
    Column("registered", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", Uuid, nullable=False),
    *known_between(),
)
Index("ix_proj_actors_key", actors.c.conflict, actors.c.name)

#: Each milestone of an agreement or declaration as its signing (or the latest correction of
#: it) set it (0012): a correction closes the agreement's milestone rows and inserts its new ones.
milestones = Table(
    "proj_milestones",
    metadata,
    Column("conflict", String(64), nullable=False),
    Column("agreement_id", String(64), nullable=False),
    Column("milestone_id", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", Uuid, nullable=False),
    *known_between(),
)
Index("ix_proj_milestones_key", milestones.c.conflict, milestones.c.agreement_id)

#: Each ``milestone.extended`` (its new ``due_at`` from its occurred_at on) and
#: ``milestone.met`` (met from its occurred_at on), 0012; a correction of one closes its row.
milestone_updates = Table(
    "proj_milestone_updates",
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("conflict", String(64), nullable=False),
    Column("agreement_id", String(64), nullable=False),
    Column("milestone_id", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=True),
    Column("reason", Text, nullable=True),
    Column("statement", Text, nullable=True),
    Column("version", Integer, nullable=False),
    *known_between(),
)
Index("ix_proj_milestone_updates_key", milestone_updates.c.event_id)
Index("ix_proj_milestone_updates_conflict", milestone_updates.c.conflict)
#: Each ``violations.reported`` (0013): an aggregate report of violations over a period, by a
#: monitor, a mediator or a third party. ``by_party`` is a JSON object (accused -> count).
reports = Table(
    "proj_reports",
    metadata,
    Column("event_id", Uuid, nullable=False),
    Column("conflict", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("reported_by", String(200), nullable=False),
    Column("period_from", UtcDateTime, nullable=False),
    Column("period_to", UtcDateTime, nullable=False),
    Column("count", Integer, nullable=False),
    Column("by_party", Text, nullable=True),
    Column("agreement_id", String(64), nullable=True),
    Column("statement", Text, nullable=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("source", Text, nullable=False),
    *known_between(),
)
Index("ix_proj_reports_key", reports.c.event_id)
Index("ix_proj_reports_time", reports.c.conflict, reports.c.period_to)

#: Each lull (0014): a de facto calm without an agreement, from its observation until its end
#: (``ended_at``, NULL while not ended); a ``lull.ended`` or a correction closes the row version.
lulls = Table(
    "proj_lulls",
    metadata,
    Column("conflict", String(64), nullable=False),
    Column("lull_id", String(64), nullable=False),
    Column("parties", Text, nullable=False),
    Column("observed_by", String(200), nullable=False),
    Column("statement", Text, nullable=True),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("end_reason", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("event_id", Uuid, nullable=False),
    *known_between(),
)
Index("ix_proj_lulls_key", lulls.c.conflict, lulls.c.lull_id)

#: Every rebuild and verification of the projections (``projections.jobs``), one row a job:
#: not a view, and not bitemporal.
projection_jobs = Table(
    "projection_jobs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("projections", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("done", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    # Only one job runs at a time: the database says so, not a check in Python.
    Index(
        "ux_projection_jobs_one_running",
        "state",
        unique=True,
        sqlite_where=text("state = 'running'"),
        postgresql_where=text("state = 'running'"),
    ),
    Index("ix_projection_jobs_created", "created_at"),
)

#: The columns that name one thing in each table: a change closes the current row version
#: matching these before it inserts the next one.
PROJECTION_KEYS: dict[str, tuple[str, ...]] = {
    "proj_agreements": ("conflict", "agreement_id"),
    "proj_allegations": ("event_id",),
    "proj_missions": ("conflict", "mission_id"),
    "proj_corrections": ("event_id",),
    "proj_extensions": ("event_id",),
    "proj_mission_ends": ("event_id",),
    "proj_descriptions": ("conflict",),
    "proj_actors": ("conflict", "name"),
    "proj_milestones": ("conflict", "agreement_id", "milestone_id"),
    "proj_milestone_updates": ("event_id",),
    "proj_reports": ("event_id",),
    "proj_lulls": ("conflict", "lull_id"),
}
