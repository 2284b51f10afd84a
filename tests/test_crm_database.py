"""SQL over the simulated CRM tables (DuckDB views over Parquet)."""

from __future__ import annotations

import pytest

from analysis.behaviour.database import connect_crm, query_crm
from analysis.errors import DataError
from analysis.simulate.crm import simulate_crm, write_crm


@pytest.fixture(scope="module")
def crm_folder(tmp_path_factory):
    db = simulate_crm(n_customers=2000, months=18, random_state=5)
    folder = write_crm(db, tmp_path_factory.mktemp("crm") / "crm")
    return db, folder


def test_tables_join_with_sql(crm_folder):
    db, folder = crm_folder
    result = query_crm(folder, """
        SELECT c.city_tier, COUNT(*) AS orders, SUM(o.amount) AS revenue
        FROM orders o JOIN customers c USING (customer_id)
        GROUP BY c.city_tier ORDER BY c.city_tier""")
    assert result["orders"].sum() == len(db.orders)
    assert result["revenue"].sum() == pytest.approx(db.orders["amount"].sum())


def test_every_table_is_a_view(crm_folder):
    _, folder = crm_folder
    names = {row[0] for row in connect_crm(folder).execute("SHOW TABLES").fetchall()}
    assert {"customers", "orders", "deliveries", "returns", "complaints", "service_contacts", "sessions"} <= names


def test_bad_folder_and_bad_query_are_data_errors(crm_folder, tmp_path):
    _, folder = crm_folder
    with pytest.raises(DataError, match="no Parquet tables"):
        connect_crm(tmp_path)
    with pytest.raises(DataError, match="query over"):
        query_crm(folder, "SELECT nope FROM orders")
