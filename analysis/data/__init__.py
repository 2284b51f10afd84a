"""Reading survey exports: file formats and encodings, platform layouts, cell recoding, checks
against the instrument, and the validation report.

Raw files are only ever read, never written.
"""

from __future__ import annotations

from analysis.data.cells import (
    CellRules,
)
from analysis.data.encoding import (
    ENCODINGS,
    decode_text,
)
from analysis.data.exports import (
    LAYOUTS,
    detect_layout,
    normalise_export,
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
    FORMAT_ALIASES,
    FORMATS,
    file_sha256,
    read_table,
)
from analysis.data.validation import (
    ValidationLog,
    summarise,
)

__all__ = [
    "ENCODINGS",
    "decode_text",
    "LAYOUTS",
    "detect_layout",
    "normalise_export",
    "FORMAT_ALIASES",
    "ValidationLog",
    "summarise",
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
