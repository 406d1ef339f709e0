"""Scratch tables: where a projection is rebuilt beside the live one, and the swap.

A scratch table has the live table's shape, read from the database's own catalogue (columns,
constraints, indexes), so a column or an index a later migration adds is carried over without
touching this module. While it fills it has only the index on its key columns (closing a row
version needs it); the others are built once it is full. Its indexes get temporary names; the
swap gives them back the live names, so after a rebuild the schema is what the migrations made.
(Constraints backed by an index, such as a primary key, are refused on PostgreSQL: the
projection tables have none, and this module does not carry them over.)

The swap runs inside the caller's transaction, which holds the append lock:
live -> retired_<live>, scratch -> live, drop retired. On PostgreSQL it is all transactional
DDL: readers see the old table until commit, then the new one (``ceasefire_append`` finds its
tables by name on every call). SQLite has no ``ALTER INDEX … RENAME``: there the live indexes
are built anew on the swapped-in table, which appends wait for (reads go on).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from events.log.tables import metadata
from projections.driver import RawConnection
from projections.tables import PROJECTION_KEYS

__all__ = ["SCRATCH_PREFIXES", "Scratch", "drop_leftovers"]

#: Scratch tables are named <prefix><live table>; a killed run may leave some behind.
SCRATCH_PREFIXES = ("rebuild_", "verify_")

_PG_INDEX = re.compile(r"^CREATE (UNIQUE )?INDEX (\S+) ON (ONLY )?(\S+) ", re.IGNORECASE)
_SQLITE_INDEX = re.compile(r'^CREATE (UNIQUE )?INDEX ("?)([^\s"]+)\2 ON ("?)([^\s"(]+)\4\s*', re.I)
_SQLITE_TABLE = re.compile(r'^CREATE TABLE ("?)([^\s"(]+)\1\s*', re.IGNORECASE)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class Scratch:
    """Scratch copies of ``live`` tables, named ``prefix + live``."""

    prefix: str
    live: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.prefix not in SCRATCH_PREFIXES:
            raise ValueError(f"scratch prefix must be one of {SCRATCH_PREFIXES}")

    @property
    def rename(self) -> dict[str, str]:
        return {name: self.name(name) for name in self.live}

    def name(self, live: str) -> str:
        return self.prefix + live

    async def create(self, conn: RawConnection) -> None:
        """Drop any scratch table of these names, then create each afresh, empty, with the
        index on its key columns only (what closing a row version needs while it fills); the
        other indexes come after the bulk load (``index``), which is faster than keeping them
        up to date row by row."""
        await self.drop(conn)
        for live in self.live:
            if conn.dialect == "postgresql":
                await _create_postgresql(conn, live, self.name(live))
            else:
                await _create_sqlite(conn, live, self.name(live))
            for index, sql in await _indexes(conn, live):
                if index in _key_indexes(live):
                    await conn.execute(self._index_sql(conn, live, index, sql))

    async def index(self, conn: RawConnection) -> None:
        """Build the scratch tables' other indexes, after the bulk load and before the swap
        (PostgreSQL; on SQLite the swap builds the live indexes anew in any case)."""
        if conn.dialect != "postgresql":
            return
        for live in self.live:
            existing = {name for name, _ in await _indexes(conn, self.name(live))}
            for index, sql in await _indexes(conn, live):
                if self._index_name(index) not in existing:
                    await conn.execute(self._index_sql(conn, live, index, sql))

    def _index_name(self, live_index: str) -> str:
        return (self.prefix + live_index)[:63]

    def _index_sql(self, conn: RawConnection, live: str, index: str, sql: str) -> str:
        """The live index's definition, for the scratch table under a scratch name."""
        pattern = _PG_INDEX if conn.dialect == "postgresql" else _SQLITE_INDEX
        match = pattern.match(sql)
        if match is None:
            raise RuntimeError(f"cannot read the definition of index {index}: {sql}")
        unique = "UNIQUE " if sql.upper().startswith("CREATE UNIQUE") else ""
        target = _q(self.name(live))
        return (
            f"CREATE {unique}INDEX {_q(self._index_name(index))} ON {target} {sql[match.end() :]}"
        )

    async def drop(self, conn: RawConnection) -> None:
        for live in self.live:
            await conn.execute(f"DROP TABLE IF EXISTS {_q(self.name(live))}")

    async def analyze(self, conn: RawConnection) -> None:
        """Planner statistics for the freshly filled tables, before they go live."""
        for live in self.live:
            await conn.execute(f"ANALYZE {_q(self.name(live))}")

    async def swap(self, conn: RawConnection) -> None:
        """Put each scratch table in its live table's place. Call inside a transaction that
        holds the append lock; nothing is visible to others until it commits."""
        await self.index(conn)  # normally done already, outside the lock
        for live in self.live:
            scratch, retired = self.name(live), "retired_" + live
            live_indexes = await _indexes(conn, live)
            scratch_indexes = [name for name, _ in await _indexes(conn, scratch)]
            await conn.execute(f"ALTER TABLE {_q(live)} RENAME TO {_q(retired)}")
            await conn.execute(f"ALTER TABLE {_q(scratch)} RENAME TO {_q(live)}")
            await conn.execute(f"DROP TABLE {_q(retired)}")
            if conn.dialect == "postgresql":
                for index, _ in live_indexes:
                    await conn.execute(
                        f"ALTER INDEX {_q(self._index_name(index))} RENAME TO {_q(index)}"
                    )
            else:
                await _build_sqlite_indexes(conn, [sql for _, sql in live_indexes])
                for name in scratch_indexes:
                    await conn.execute(f"DROP INDEX {_q(name)}")


#: Helper threads SQLite's sorter may start for an index build (``PRAGMA threads``; SQLite
#: caps it at its own build's limit, 8 by default).
_SORT_THREADS = min(os.cpu_count() or 1, 8)


async def _build_sqlite_indexes(conn: RawConnection, definitions: list[str]) -> None:
    """Build the live indexes on SQLite, where appends wait for them: with the sorter's helper
    threads, which made the three index builds of 949k allegation rows 1.83 -> 1.25 s on two
    cores (``PRAGMA threads`` 0 -> 2, medians of 3). The connection is pooled: the setting
    goes back to SQLite's default after."""
    await conn.execute(f"PRAGMA threads = {_SORT_THREADS}")
    try:
        for sql in definitions:
            await conn.execute(sql)
    finally:
        await conn.execute("PRAGMA threads = 0")


async def drop_leftovers(conn: RawConnection) -> list[str]:
    """Drop scratch tables a killed run left behind; their names. Call only while holding the
    job slot (``projections.jobs``), so no running job owns them."""
    if conn.dialect == "postgresql":
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    else:
        rows = await conn.fetch("SELECT name FROM sqlite_master WHERE type = 'table'")
    names = [r[0] for r in rows if str(r[0]).startswith(SCRATCH_PREFIXES)]
    for name in names:
        await conn.execute(f"DROP TABLE IF EXISTS {_q(name)}")
    return names


def _key_indexes(live: str) -> set[str]:
    """The indexes on exactly the table's key columns (``PROJECTION_KEYS``)."""
    table = metadata.tables[live]
    key = PROJECTION_KEYS.get(live, ())
    return {
        str(index.name) for index in table.indexes if tuple(c.name for c in index.columns) == key
    }


async def _indexes(conn: RawConnection, table: str) -> list[tuple[str, str]]:
    """(name, definition) of each index of ``table`` that is not a constraint's own."""
    if conn.dialect == "postgresql":
        rows = await conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename = $1 AND NOT EXISTS ("
            "SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            table,
        )
    else:
        rows = await conn.fetch(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
            table,
        )
    return [(r[0], r[1]) for r in rows]


async def _create_postgresql(conn: RawConnection, live: str, scratch: str) -> None:
    constrained = await conn.fetch(
        "SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN "
        "('p', 'u', 'x')",
        live,
    )
    if constrained:
        raise RuntimeError(f"{live} has index-backed constraints, which a rebuild cannot copy")
    await conn.execute(
        f"CREATE TABLE {_q(scratch)} (LIKE {_q(live)} INCLUDING ALL EXCLUDING INDEXES)"
    )
    grants = await conn.fetch(
        "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
        "WHERE table_schema = current_schema() AND table_name = $1 AND grantee <> current_user",
        live,
    )
    for grantee, privilege in grants:
        to = "PUBLIC" if grantee == "PUBLIC" else _q(grantee)
        await conn.execute(f"GRANT {privilege} ON {_q(scratch)} TO {to}")


async def _create_sqlite(conn: RawConnection, live: str, scratch: str) -> None:
    sql = await conn.fetchval(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1", live
    )
    if sql is None:
        raise RuntimeError(f"no table {live}")
    await conn.execute(_SQLITE_TABLE.sub(f"CREATE TABLE {_q(scratch)} ", sql, count=1))
