"""The survey instrument: its data model, loading and validation, codebook and questionnaires.
"""

from __future__ import annotations

from analysis.instrument.model import (
    SUPPORTED_LANGUAGES,
    CONSTRUCT_ROLES,
    Scale,
    Construct,
    Item,
    Block,
    Demographic,
    Instrument,
)
from analysis.instrument.schema import (
    load_instrument,
)
from analysis.instrument.questionnaire import (
    CODEBOOK_COLUMNS,
    codebook,
    write_codebook,
    questionnaire_markdown,
    questionnaire_html,
    write_questionnaires,
    export_survey,
)

__all__ = [
    "SUPPORTED_LANGUAGES",
    "CONSTRUCT_ROLES",
    "Scale",
    "Construct",
    "Item",
    "Block",
    "Demographic",
    "Instrument",
    "load_instrument",
    "CODEBOOK_COLUMNS",
    "codebook",
    "write_codebook",
    "questionnaire_markdown",
    "questionnaire_html",
    "write_questionnaires",
    "export_survey",
]
