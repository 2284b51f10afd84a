"""The survey instrument: its data model, loading and validation, codebook and questionnaires.
"""

from __future__ import annotations

from analysis.instrument.model import (
    CONSTRUCT_ROLES,
    SUPPORTED_LANGUAGES,
    Block,
    Construct,
    Demographic,
    Instrument,
    Item,
    Scale,
)
from analysis.instrument.questionnaire import (
    CODEBOOK_COLUMNS,
    codebook,
    export_survey,
    questionnaire_html,
    questionnaire_markdown,
    write_codebook,
    write_questionnaires,
)
from analysis.instrument.schema import (
    load_instrument,
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
