"""Privacy of respondents and customers: pseudonyms, dropped identifiers, small-cell suppression, output scan.

* :mod:`~analysis.privacy.pseudonym` - keyed pseudonyms (HMAC-SHA256 under a per-client
  secret salt kept in ``data/secrets/``, never in an output);
* :mod:`~analysis.privacy.tables` - applies them to the survey, the simulation truth and the CRM;
* :mod:`~analysis.privacy.columns` - drops e-mail, phone, name, IP, location and free-text
  columns right after reading;
* :mod:`~analysis.privacy.suppress` - k-suppression (``privacy.min_cell_size``) of group
  and segment tables, with complementary suppression;
* :mod:`~analysis.privacy.scan` - scans every file of a report folder for forbidden values;
* :mod:`~analysis.privacy.gate` - what those values are for a study (raw ids, contact details
  and free text of its inputs), checked before a report is published.
"""

from analysis.privacy.columns import (
    DroppedColumns,
    classify_column,
    drop_identifying_columns,
)
from analysis.privacy.pseudonym import (
    Pseudonymiser,
    default_salt_path,
    load_or_create_salt,
    salt_fingerprint,
)
from analysis.privacy.scan import ScanResult, raise_on_findings, scan_outputs
from analysis.privacy.suppress import (
    DEFAULT_MIN_CELL_SIZE,
    suppress_counts,
    suppress_groups,
    suppress_label_counts,
    suppressed_cells,
)
from analysis.privacy.tables import (
    ID_COLUMNS,
    drop_crm_identifiers,
    pseudonymise_crm,
    pseudonymise_table,
)

__all__ = ["Pseudonymiser", "default_salt_path", "load_or_create_salt", "salt_fingerprint",
           "DroppedColumns", "classify_column", "drop_identifying_columns",
           "ScanResult", "scan_outputs", "raise_on_findings",
           "DEFAULT_MIN_CELL_SIZE", "suppress_groups", "suppress_counts", "suppress_label_counts",
           "suppressed_cells", "ID_COLUMNS", "pseudonymise_table", "pseudonymise_crm", "drop_crm_identifiers"]
