"""Reading survey exports: file formats and encodings, cell recoding, checks against the instrument.

Raw files are only ever read, never written.
"""

from __future__ import annotations

from analysis.data.cells import (
    CellRules,
)
from analysis.data.ingest import (
    DEFAULT_MISSING_CODES,
    IngestReport,
    load_survey_file,
    numeric_columns,
    recode_reverse_keyed,
    validate_responses,
)
from analysis.data.readers import (
    FORMATS,
    file_sha256,
    read_table,
)

__all__ = [
    "FORMATS",
    "file_sha256",
    "read_table",
    "CellRules",
    "numeric_columns",
    "DEFAULT_MISSING_CODES",
    "IngestReport",
    "validate_responses",
    "recode_reverse_keyed",
    "load_survey_file",
]
