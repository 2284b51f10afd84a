"""Pseudonymise every table of a study the moment it is read.

The survey responses, the simulated respondent truth and every CRM table get the same
treatment: ``respondent_id`` -> ``R-<hex>``, ``customer_id`` -> ``C-<hex>``, under the one
client salt, so that survey and CRM still link on ``customer_id`` and the simulation
truth still joins on ``respondent_id``. Order ids, session ids and the like identify
transactions, not people, and are left as they are.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pandas as pd

from analysis.privacy.columns import DroppedColumns, classify_column
from analysis.privacy.pseudonym import CUSTOMER_PREFIX, RESPONDENT_PREFIX, Pseudonymiser

if TYPE_CHECKING:  # only a type here; importing the simulator would cost the report build 0.6 s
    from analysis.simulate.crm import CRMDatabase

__all__ = ["ID_COLUMNS", "pseudonymise_table", "pseudonymise_crm", "drop_crm_identifiers"]

#: Columns holding person ids, and the prefix of their pseudonyms.
ID_COLUMNS = {"respondent_id": RESPONDENT_PREFIX, "customer_id": CUSTOMER_PREFIX}


def pseudonymise_table(frame: pd.DataFrame | None, pseudonymiser: Pseudonymiser) -> pd.DataFrame | None:
    """A copy of ``frame`` with its id columns (and an id index) pseudonymised."""
    return pseudonymiser.frame(frame, ID_COLUMNS)


def pseudonymise_crm(db: CRMDatabase | None, pseudonymiser: Pseudonymiser) -> CRMDatabase | None:
    """The same CRM with ``customer_id`` (and ``respondent_id`` of the truth) pseudonymised in every table."""
    if db is None:
        return None
    changes = {f.name: pseudonymise_table(getattr(db, f.name), pseudonymiser)
               for f in dataclasses.fields(db) if isinstance(getattr(db, f.name), pd.DataFrame)}
    return dataclasses.replace(db, **changes)


def drop_crm_identifiers(db: CRMDatabase | None) -> tuple[CRMDatabase | None, DroppedColumns]:
    """A client's CRM export without columns of personal data (e-mail, phone, name, IP,
    address, free text), found by header and by content; ids are kept for pseudonymising.

    Dropped headers are reported as ``<table>.<column>``.
    """
    dropped: dict[str, str | None] = {}
    if db is None:
        return None, DroppedColumns(dropped)
    changes = {}
    for f in dataclasses.fields(db):
        table = getattr(db, f.name)
        if not isinstance(table, pd.DataFrame):
            continue
        reasons = {str(c): classify_column(str(c), table[c]) for c in table.columns
                   if str(c) not in ID_COLUMNS and not str(c).endswith("_id")}
        personal = [c for c in table.columns if reasons.get(str(c)) is not None]
        if personal:
            dropped.update({f"{f.name}.{c}": reasons[str(c)] for c in personal})
            changes[f.name] = table.drop(columns=personal)
    return (dataclasses.replace(db, **changes) if changes else db), DroppedColumns(dropped)
