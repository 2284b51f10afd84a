"""Query a CRM export (a folder of Parquet tables) together with SQL, through DuckDB.

``connect_crm(folder)`` opens an in-memory DuckDB database with one view per table
(customers, orders, deliveries, returns, complaints, service_contacts, sessions, and any
other ``*.parquet`` in the folder). Views read the Parquet files lazily, so joining 10
million orders with their customers needs no import step and little memory, and the
files themselves are only read, never written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import pandas as pd

from analysis.errors import DataError

__all__ = ["connect_crm", "query_crm"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def connect_crm(folder: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view over every Parquet table in ``folder``."""
    root = Path(folder)
    tables = sorted(root.glob("*.parquet")) if root.is_dir() else []
    if not tables:
        raise DataError(f"{root}: no Parquet tables found; expected e.g. customers.parquet and orders.parquet "
                        "(as written by analysis.simulate.crm.write_crm)")
    connection = duckdb.connect(database=":memory:")
    for path in tables:
        name = path.stem
        if not _NAME.match(name):
            raise DataError(f"{path}: table name {name!r} is not a valid SQL identifier; rename the file")
        literal = str(path.resolve()).replace("'", "''")  # DDL takes no bound parameters
        connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{literal}')")
    return connection


def query_crm(folder: str | os.PathLike, sql: str) -> pd.DataFrame:
    """Run one SQL query over the CRM tables of ``folder`` and return a DataFrame."""
    connection = connect_crm(folder)
    try:
        return connection.execute(sql).df()
    except duckdb.Error as exc:
        raise DataError(f"query over {folder} failed: {str(exc).splitlines()[0]}") from None
    finally:
        connection.close()
