"""Scratch tables: where a projection is rebuilt beside the live one, and the swap.

A scratch table has the live table's shape, read from the database's own catalogue (columns,
constraints, indexes), so a column or an index a later migration adds is carried over without
touching this module. Its indexes get temporary names; the swap gives them back the live
names, so after a rebuild the schema is what the migrations made.

The swap runs inside the caller's transaction, which holds the append lock:
live -> retired_<live>, scratch -> live, drop retired. On PostgreSQL it is all transactional
DDL: readers see the old table until commit, then the new one (``ceasefire_append`` finds its
tables by name on every call). SQLite has no ``ALTER INDEX … RENAME``: there the live indexes
are built anew on the swapped-in table, which appends wait for (reads go on).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from projections.driver import RawConnection

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
        """Drop any scratch table of these names, then create each afresh, empty."""
        await self.drop(conn)
        for live in self.live:
            if conn.dialect == "postgresql":
                await _create_postgresql(conn, live, self.name(live))
            else:
                await _create_sqlite(conn, live, self.name(live), self.prefix)

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
        for live in self.live:
            scratch, retired = self.name(live), "retired_" + live
            if conn.dialect == "postgresql":
                pairs = await _postgresql_index_pairs(conn, live, scratch)
            else:
                live_indexes = await _sqlite_indexes(conn, live)
                scratch_indexes = [name for name, _ in await _sqlite_indexes(conn, scratch)]
            await conn.execute(f"ALTER TABLE {_q(live)} RENAME TO {_q(retired)}")
            await conn.execute(f"ALTER TABLE {_q(scratch)} RENAME TO {_q(live)}")
            await conn.execute(f"DROP TABLE {_q(retired)}")
            if conn.dialect == "postgresql":
                for scratch_index, live_index in pairs:
                    await conn.execute(
                        f"ALTER INDEX {_q(scratch_index)} RENAME TO {_q(live_index)}"
                    )
            else:
                for _, sql in live_indexes:
                    await conn.execute(sql)
                for name in scratch_indexes:
                    await conn.execute(f"DROP INDEX {_q(name)}")


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


# -- PostgreSQL ------------------------------------------------------------------------------


async def _create_postgresql(conn: RawConnection, live: str, scratch: str) -> None:
    await conn.execute(f"CREATE TABLE {_q(scratch)} (LIKE {_q(live)} INCLUDING ALL)")
    grants = await conn.fetch(
        "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
        "WHERE table_schema = current_schema() AND table_name = $1 AND grantee <> current_user",
        live,
    )
    for grantee, privilege in grants:
        to = "PUBLIC" if grantee == "PUBLIC" else _q(grantee)
        await conn.execute(f"GRANT {privilege} ON {_q(scratch)} TO {to}")


async def _postgresql_index_pairs(
    conn: RawConnection, live: str, scratch: str
) -> list[tuple[str, str]]:
    """(scratch index, live index) with the same definition, for every live index."""

    async def definitions(table: str) -> dict[str, str]:
        rows = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = $1",
            table,
        )
        return {name: _PG_INDEX.sub(r"CREATE \1INDEX ON ", definition) for name, definition in rows}

    scratch_defs = await definitions(scratch)
    pairs = []
    for live_name, definition in (await definitions(live)).items():
        match = next((s for s, d in scratch_defs.items() if d == definition), None)
        if match is None:
            raise RuntimeError(f"index {live_name} has no twin on {scratch}")
        del scratch_defs[match]
        pairs.append((match, live_name))
    return pairs


# -- SQLite ----------------------------------------------------------------------------------


async def _sqlite_indexes(conn: RawConnection, table: str) -> Sequence[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT name, sql FROM sqlite_master "
        "WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
        table,
    )
    return [(r[0], r[1]) for r in rows]


async def _create_sqlite(conn: RawConnection, live: str, scratch: str, prefix: str) -> None:
    sql = await conn.fetchval(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1", live
    )
    if sql is None:
        raise RuntimeError(f"no table {live}")
    await conn.execute(_SQLITE_TABLE.sub(f"CREATE TABLE {_q(scratch)} ", sql, count=1))
    for name, index_sql in await _sqlite_indexes(conn, live):
        unique = "UNIQUE " if index_sql.upper().startswith("CREATE UNIQUE") else ""
        head = f"CREATE {unique}INDEX {_q(prefix + name)} ON {_q(scratch)} "
        match = _SQLITE_INDEX.match(index_sql)
        if match is None:
            raise RuntimeError(f"cannot read the definition of index {name}: {index_sql}")
        await conn.execute(head + index_sql[match.end() :])
