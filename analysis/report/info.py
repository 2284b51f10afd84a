"""What made a document: the record every renderer returns and the manifest stores."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RenderInfo"]


@dataclass(frozen=True)
class RenderInfo:
    """Which renderer made the HTML: name, version, the command, and remarks."""

    name: str
    version: str
    command: str
    statement: str
    external_resources: tuple[str, ...] = ()
