"""The survey instrument as validated data: constructs, items, scale, blocks, demographics.

These frozen dataclasses are built by :func:`analysis.instrument.schema.load_instrument`
(which validates ``survey/instrument.yaml``) and read by every later stage; codebook and
questionnaire rendering live in :mod:`analysis.instrument.questionnaire`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.errors import ConfigError

__all__ = [
    "SUPPORTED_LANGUAGES", "CONSTRUCT_ROLES", "Scale", "Construct", "Item", "Block", "Demographic",
    "Instrument",
]

SUPPORTED_LANGUAGES = ("en", "zh-Hans", "zh-Hant")
CONSTRUCT_ROLES = ("quality_dimension", "trust", "outcome", "marker", "attention")

@dataclass(frozen=True)
class Scale:
    """Agreement scale: ``points`` ordered categories coded 1..points, labelled per language."""

    points: int
    anchors: dict[str, dict[int, str]]

    @property
    def minimum(self) -> int:
        return 1

    @property
    def maximum(self) -> int:
        return self.points


@dataclass(frozen=True)
class Construct:
    code: str
    name: dict[str, str]
    role: str
    description: str
    source: str = ""


@dataclass(frozen=True)
class Item:
    id: str
    construct: str
    block: str
    text: dict[str, str]
    reverse: bool = False
    attention_check: bool = False
    expected: int | None = None


@dataclass(frozen=True)
class Block:
    """One questionnaire page: its id, title and optional lead-in text per language."""

    id: str
    title: dict[str, str]
    intro: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Demographic:
    id: str
    label: dict[str, str]
    options: tuple[tuple[str, dict[str, str]], ...]

    @property
    def codes(self) -> list[str]:
        return [code for code, _ in self.options]


@dataclass(frozen=True)
class Instrument:
    id: str
    version: str
    languages: tuple[str, ...]
    scale: Scale
    constructs: tuple[Construct, ...]
    items: tuple[Item, ...]
    demographics: tuple[Demographic, ...]
    source_path: Path | None = None
    title: dict[str, str] = field(default_factory=dict)
    introduction: dict[str, str] = field(default_factory=dict)
    consent: dict[str, str] = field(default_factory=dict)
    instructions: dict[str, str] = field(default_factory=dict)
    closing: dict[str, str] = field(default_factory=dict)
    block_specs: tuple[Block, ...] = ()

    @property
    def likert_items(self) -> list[str]:
        """All scale items, attention checks included, in questionnaire order."""
        return [item.id for item in self.items]

    @property
    def substantive_items(self) -> list[str]:
        return [item.id for item in self.items if not item.attention_check]

    @property
    def construct_codes(self) -> list[str]:
        """Measured constructs (everything except the attention-check pseudo-construct)."""
        return [c.code for c in self.constructs if c.role != "attention"]

    @property
    def attention_checks(self) -> dict[str, int]:
        return {item.id: item.expected for item in self.items if item.attention_check}

    @property
    def blocks(self) -> dict[str, list[str]]:
        """Block (questionnaire page) id -> its item ids, both in questionnaire order."""
        pages: dict[str, list[str]] = {spec.id: [] for spec in self.block_specs}
        for item in self.items:
            pages.setdefault(item.block, []).append(item.id)
        return pages

    @property
    def reverse_keyed(self) -> list[str]:
        return [item.id for item in self.items if item.reverse]

    @property
    def demographic_ids(self) -> list[str]:
        return [d.id for d in self.demographics]

    def items_of(self, code: str) -> list[str]:
        self.construct(code)
        return [item.id for item in self.items if item.construct == code]

    def construct(self, code: str) -> Construct:
        return self._find("construct", code, self.constructs, "code")

    def item(self, item_id: str) -> Item:
        return self._find("item", item_id, self.items, "id")

    def block(self, block_id: str) -> Block:
        return self._find("block", block_id, self.block_specs, "id")

    def _find(self, kind: str, key: str, pool: tuple, attribute: str) -> Any:
        for entry in pool:
            if getattr(entry, attribute) == key:
                return entry
        known = ", ".join(getattr(entry, attribute) for entry in pool)
        raise ConfigError(f"instrument '{self.id}': unknown {kind} {key!r}; expected one of {known}")
