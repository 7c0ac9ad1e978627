"""One owner per stored table: each table's module declares it (``TABLES``, the modules
listed once in ``run_session.TABLE_OWNERS``) and is the only module under connector/,
rules/ and jobs/ with SQL on it."""
from __future__ import annotations

import re
from pathlib import Path

from clientcare.connector.state import SCHEMA_VERSION
from clientcare.jobs.run_session import TABLE_OWNERS, open_store

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("connector", "rules", "jobs")
#: The table an SQL statement names: SELECT/DELETE ... FROM t, JOIN t, INSERT ... INTO t,
#: UPDATE t, CREATE TABLE t, CREATE INDEX i ON t (upper-case keywords: Python's ``from`` is not SQL).
SQL_TABLE = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE(?: IF NOT EXISTS)?|INDEX \w+ ON)\s+(\w+)")


def owners() -> dict[str, str]:
    """Table -> the owning module's path relative to the repository, as the modules declare it."""
    out: dict[str, str] = {}
    for module in TABLE_OWNERS:
        for table in module.TABLES.names:
            assert table not in out, f"{table} declared by {out[table]} and {module.__name__}"
            out[table] = Path(module.__file__).resolve().relative_to(ROOT).as_posix()
    return out


def sql_tables(path: Path) -> set[str]:
    return set(SQL_TABLE.findall(path.read_text(encoding="utf-8")))


def foreign_sql(root: Path, owned: dict[str, str]) -> list[str]:
    """``module: table`` for each stored table a module has SQL on without owning it."""
    return sorted(f"{path.relative_to(root).as_posix()}: {table}"
                  for package in PACKAGES for path in (root / package).rglob("*.py")
                  for table in sql_tables(path) & set(owned) if owned[table] != path.relative_to(root).as_posix())


def test_no_module_runs_sql_on_a_table_it_does_not_own():
    assert foreign_sql(ROOT, owners()) == []


def test_every_stored_table_has_one_declared_owner_with_its_sql(tmp_path):
    owned = owners()
    store = open_store(tmp_path / "s.sqlite3")
    stored = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    store.close()
    assert stored == set(owned)
    for table, path in owned.items():  # the scan sees each owner's statements: it is not blind
        assert table in sql_tables(ROOT / path), (table, path)


def test_no_table_adds_ddl_past_the_schema_version():
    """A version no store migrates to would leave that DDL unapplied: bump SCHEMA_VERSION with it."""
    assert max(v for module in TABLE_OWNERS for v in module.TABLES.ddl) <= SCHEMA_VERSION
