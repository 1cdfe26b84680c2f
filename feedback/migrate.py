"""Versioned schema migrations: numbered SQL files in `feedback/migrations/`, applied once each, in order."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

import aiosqlite

FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    applied REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(package: str = "feedback", folder: str = "migrations") -> list[Migration]:
    """The migration files shipped with `package`, by version."""
    found: dict[int, Migration] = {}
    for entry in resources.files(package).joinpath(folder).iterdir():
        match = FILE_NAME.match(entry.name)
        if not match:
            continue
        version = int(match[1])
        if version in found:
            raise ValueError(f"two migrations numbered {version}: {found[version].name}, {match[2]}")
        found[version] = Migration(version, match[2], entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def split_statements(sql: str) -> list[str]:
    """One string per statement; a ';' inside a string, comment or trigger body does not split."""
    statements, current = [], ""
    for piece in sql.split(";")[:-1]:
        current += piece + ";"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    rest = current + sql.split(";")[-1]
    if any(line.strip() and not line.strip().startswith("--") for line in rest.splitlines()):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {rest.strip()[:80]!r}")
    return statements


async def applied_versions(conn: aiosqlite.Connection) -> set[int]:
    rows = await conn.execute_fetchall("SELECT version FROM schema_migrations")
    return {row[0] for row in rows}


async def apply_migrations(conn: aiosqlite.Connection, migrations: list[Migration], now: float) -> list[int]:
    """Apply the migrations not yet recorded, each in its own transaction; the versions applied.

    The connection must be in autocommit mode (isolation_level=None). Another process may be
    migrating the same file at the same time, so each version is re-checked under the write lock.
    """
    await conn.execute(CREATE_LEDGER)
    done = await applied_versions(conn)
    applied = []
    for migration in migrations:
        if migration.version in done:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if migration.version not in await applied_versions(conn):
                for statement in split_statements(migration.sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)",
                    (migration.version, migration.name, now),
                )
                applied.append(migration.version)
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
    return applied
