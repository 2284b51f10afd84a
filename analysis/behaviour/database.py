"""A client's CRM export: read and check it, link it to the survey, query it with SQL.

:func:`read_crm_export` reads the tables of ``behaviour.crm_path`` (``orders`` required,
``customers`` and ``sessions`` optional; CSV or Parquet) and checks every order before
any analysis: dates that parse and fall in the observation window (not after the day of
the run, not more than ``behaviour.months`` months before the last order), amounts that
are numbers >= 0, order ids that are unique. :func:`check_linkage` says how many survey
respondents the CRM knows by the linkage key (``customer_id``): none is an error, a few
unknown ones are noted. Every problem is one :class:`~analysis.errors.DataError` naming
the file, the row (CSV: the line) and the column; cell values are quoted shortened.

Querying:

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
import numpy as np
import pandas as pd

from analysis.errors import DataError, one_line, shorten
from analysis.simulate.crm import CRMDatabase, read_crm

__all__ = ["CRM_TABLES", "LINK_KEY", "MIN_LINKED", "read_crm_export", "check_orders", "check_linkage",
           "connect_crm", "query_crm"]

#: Tables of a client export and the columns each must have (``orders`` is required).
CRM_TABLES = {"orders": ("customer_id", "timestamp", "amount"),
              "customers": ("customer_id",), "sessions": ("customer_id",)}
#: The column that links survey respondents to CRM customers.
LINK_KEY = "customer_id"
#: Fewest respondents found in the CRM for the attitude-behaviour analyses to run.
MIN_LINKED = 10

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


# --------------------------------------------------------------------------- client exports
def _name(path: Path) -> str:
    """The file as ``<export folder>/<file>``: enough to find it, no absolute path."""
    return f"{path.parent.name}/{path.name}"


def _where(path: Path, index: int) -> str:
    """Row ``index`` (0-based) as the user finds it: the line of a CSV (header = line 1), else the row."""
    return f"line {index + 2}" if path.suffix.lower() == ".csv" else f"row {index + 1}"


def _fail(path: Path, positions: np.ndarray, column: str, problem: str, values: pd.Series) -> None:
    """Raise one DataError for the first bad cell of ``column``, counting the others."""
    first = int(positions[0])
    more = f" ({len(positions) - 1} more rows like it)" if len(positions) > 1 else ""
    raise DataError(f"{_name(path)}: {_where(path, first)}, column {column!r}: {problem}, got "
                    f"{shorten(values.iloc[first], 40)}{more}")


def _dates(frame: pd.DataFrame, path: Path, column: str) -> pd.Series:
    """``column`` parsed as dates (time-zone-free); an unparseable or empty cell is an error."""
    raw = frame[column]
    with np.errstate(all="ignore"):
        try:
            parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
        except (TypeError, ValueError):  # mixed time zones: parse each cell to UTC
            parsed = pd.to_datetime(raw, errors="coerce", format="mixed", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        _fail(path, bad, column, "expected a date such as 2025-03-31 or 2025-03-31 14:05", raw)
    return parsed


def check_orders(orders: pd.DataFrame, path: Path, *, months: int | None = None,
                 today: pd.Timestamp | None = None) -> pd.DataFrame:
    """The orders table with parsed dates and numeric amounts, or a DataError on the first bad cell.

    Parameters
    ----------
    orders : DataFrame
        As read (one row per order: ``customer_id``, ``timestamp``, ``amount``, optionally ``order_id``).
    path : Path
        The file, for messages.
    months : int, optional
        Length of the observation window (``behaviour.months``): no order may be older than
        this many months before the last order.
    today : Timestamp, optional
        The day of the run (default: today); later orders are in the future.
    """
    orders = orders.copy()
    ids = orders[LINK_KEY]
    empty = np.flatnonzero(ids.isna().to_numpy() | (ids.astype(str).str.strip() == "").to_numpy())
    if len(empty):
        _fail(path, empty, LINK_KEY, "expected a customer id", ids)
    stamps = _dates(orders, path, "timestamp")
    today = (pd.Timestamp.now() if today is None else pd.Timestamp(today)).normalize() + pd.Timedelta(days=1)
    future = np.flatnonzero((stamps >= today).to_numpy())
    if len(future):
        run_day = today - pd.Timedelta(days=1)
        _fail(path, future, "timestamp", f"expected a date no later than the day of the run ({run_day:%Y-%m-%d})",
              orders["timestamp"])
    if months is not None:
        # a week's grace: exports cut by weeks (as the simulated CRM) need not align with calendar months
        start = stamps.max().normalize() - pd.DateOffset(months=int(months)) - pd.Timedelta(days=7)
        early = np.flatnonzero((stamps < start).to_numpy())
        if len(early):
            _fail(path, early, "timestamp", f"expected a date in the observation window ({start:%Y-%m-%d} to "
                  f"{stamps.max():%Y-%m-%d}: behaviour.months = {months} before the last order)",
                  orders["timestamp"])
    raw = orders["amount"]
    amount = pd.to_numeric(raw, errors="coerce")
    not_number = np.flatnonzero((amount.isna() | ~np.isfinite(amount.astype(float))).to_numpy())
    if len(not_number):
        _fail(path, not_number, "amount", "expected a number (the order value)", raw)
    negative = np.flatnonzero((amount < 0).to_numpy())
    if len(negative):
        _fail(path, negative, "amount", "expected an amount >= 0 (returns and refunds are not orders)", raw)
    if "order_id" in orders:
        repeated = orders["order_id"].duplicated(keep="first").to_numpy()
        if repeated.any():
            row = int(np.flatnonzero(repeated)[0])
            first = int(np.flatnonzero((orders["order_id"] == orders["order_id"].iloc[row]).to_numpy())[0])
            raise DataError(f"{_name(path)}: {_where(path, row)}, column 'order_id': expected unique order ids, "
                            f"got {shorten(orders['order_id'].iloc[row], 40)} again (first on {_where(path, first)}; "
                            f"repeated ids: {int(repeated.sum())})")
    orders["timestamp"] = stamps
    orders["amount"] = amount.astype(float)
    return orders


def _read_table(folder: Path, name: str) -> tuple[pd.DataFrame, Path] | tuple[None, None]:
    for suffix in (".parquet", ".csv"):
        path = folder / f"{name}{suffix}"
        if not path.is_file():
            continue
        try:
            frame = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path, encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"{_name(path)}: not valid UTF-8 text ({exc.reason} at byte {exc.start}); save the "
                            "export as UTF-8") from None
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"{_name(path)}: cannot read the table ({one_line(str(exc), 120)})") from None
        missing = [c for c in CRM_TABLES[name] if c not in frame.columns]
        if missing:
            raise DataError(f"{_name(path)}: missing column(s) {', '.join(missing)}; expected at least "
                            f"{', '.join(CRM_TABLES[name])}, got {shorten(list(map(str, frame.columns)), 80)}")
        return frame, path
    return None, None


def read_crm_export(folder: str | os.PathLike, *, months: int | None = None,
                    today: pd.Timestamp | None = None) -> CRMDatabase:
    """Read and check a client's CRM tables (``orders`` required; ``customers``, ``sessions`` optional).

    Each table is ``<name>.parquet`` or ``<name>.csv`` (UTF-8) in ``folder``. ``orders``
    needs ``customer_id``, ``timestamp`` and ``amount`` (checked by :func:`check_orders`);
    ``customers`` (``customer_id``, optionally ``signup_date``, ``city_tier``, ``device``)
    and ``sessions`` (``customer_id``, ``timestamp``, ...) enable cohorts and web segments.
    A folder written by :func:`~analysis.simulate.crm.write_crm` is read with its truth.
    The observation ends at the last order. The files are only read.
    """
    root = Path(folder)
    if (root / "truth.json").is_file() and (root / "customer_truth.parquet").is_file():
        return read_crm(root)
    if not root.is_dir():
        raise DataError(f"{root.name}: CRM folder not found")
    tables = {name: _read_table(root, name) for name in CRM_TABLES}
    orders, orders_path = tables["orders"]
    if orders is None:
        raise DataError(f"{root.name}: no orders table; expected orders.parquet or orders.csv with columns "
                        f"{', '.join(CRM_TABLES['orders'])}")
    if orders.empty:
        raise DataError(f"{_name(orders_path)}: no orders; expected at least one row")
    orders = check_orders(orders, orders_path, months=months, today=today)
    sessions, sessions_path = tables["sessions"]
    if sessions is not None and "timestamp" in sessions:
        sessions = sessions.assign(timestamp=_dates(sessions, sessions_path, "timestamp"))
    return CRMDatabase(customers=tables["customers"][0], orders=orders, deliveries=None, returns=None,
                       complaints=None, service_contacts=None, sessions=sessions, customer_truth=None,
                       truth={"observation_end": str(orders["timestamp"].max()), "source": root.name})


def _keys(values: pd.Series) -> pd.Series:
    """Identifiers compared as text: 123, 123.0 and "123" are the same customer."""
    values = values.dropna()
    if pd.api.types.is_float_dtype(values) and np.all(np.mod(values, 1) == 0):
        values = values.astype("int64")
    return values.astype(str).str.strip()


def check_linkage(respondent_ids: pd.Series, crm_ids: pd.Series, *, folder: str, minimum: int = MIN_LINKED
                  ) -> tuple[int, int]:
    """How many respondents the CRM knows by :data:`LINK_KEY`: ``(unknown, respondents)``.

    Raises
    ------
    DataError
        Fewer than ``minimum`` respondents (none, typically: the wrong export, or ids
        written differently in the two files) are CRM customers; the message counts them.
    """
    respondents = _keys(respondent_ids)
    known = set(_keys(crm_ids))
    linked = int(respondents.isin(known).sum())
    if linked < minimum:
        raise DataError(f"{folder}: only {linked} of {len(respondents)} survey respondents match a CRM customer by "
                        f"{LINK_KEY!r} ({len(known)} customers in the orders); expected at least {minimum}: "
                        f"check that both files hold the same {LINK_KEY} values")
    return len(respondents) - linked, len(respondents)
