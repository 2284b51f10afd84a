"""Generic machinery for strictly validated YAML configuration files.

:class:`Field` describes one leaf key (type, default, range or choices) and
:class:`Section` a mapping of them; :func:`validate` walks a raw mapping against a
section and builds its objects, raising one :class:`~analysis.errors.ConfigError`
naming the file and key path. :func:`read_yaml` parses a file with a strict loader
that rejects duplicate keys. :mod:`analysis.profile.settings` declares its schema with these.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from analysis.errors import ConfigError

__all__ = ["Field", "Section", "validate", "read_yaml"]

_REQUIRED = object()
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _number(value: float) -> str:
    """A bound as written in a profile: 2000000 rather than 2e+06."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Field:
    """One leaf key: its type (``kind``), default, allowed range or choices."""

    kind: str  # "str", "text" (may be empty), "slug", "int", "float", "bool", "choice", "choices"
    #            (a list of distinct choices), "ints" (a list of distinct integers in range),
    #            "numbers" (a mapping of names to numbers in range), "path", "color" (#rrggbb)
    default: Any = _REQUIRED
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def describe(self) -> str:
        """The expected value in words, for error messages."""
        noun = {"int": "an integer", "float": "a number", "slug": "a lower-case slug "
                "(letters, digits, '-', '_')", "str": "a non-empty string",
                "text": "a string", "path": "a file path", "color": "a colour as '#rrggbb'",
                "bool": "true or false"}.get(self.kind, "one of")
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "choices":
            return "a non-empty list of distinct values from " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "ints":
            return (f"a non-empty list of distinct integers between {_number(self.minimum)} and "
                    f"{_number(self.maximum)}")
        if self.kind == "numbers":
            return (f"a mapping of names to numbers between {_number(self.minimum)} and {_number(self.maximum)} "
                    "(may be empty)")
        if self.minimum is not None and self.maximum is not None:
            return f"{noun} between {_number(self.minimum)} and {_number(self.maximum)}"
        if self.minimum is not None:
            return f"{noun} >= {_number(self.minimum)}"
        return noun + (" or null" if self.nullable else "")

    def convert(self, value: Any) -> Any:
        """Return the typed value, or raise ValueError if it does not fit."""
        if value is None and self.nullable:
            return None
        if self.kind == "choices":
            if not isinstance(value, list) or not value or len(set(map(str, value))) != len(value) \
                    or any(v not in self.choices for v in value):
                raise ValueError
            return tuple(value)
        if self.kind == "ints":
            if not isinstance(value, list) or not value or len(set(value)) != len(value) or any(
                    isinstance(v, bool) or not isinstance(v, int) or not self.minimum <= v <= self.maximum
                    for v in value):
                raise ValueError
            return tuple(sorted(value))
        if self.kind == "numbers":
            if value is None:
                return {}
            if not isinstance(value, dict) or any(
                    not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, (int, float))
                    or not self.minimum < v < self.maximum for k, v in value.items()):
                raise ValueError
            return {k: float(v) for k, v in value.items()}
        if self.kind == "color":
            if not isinstance(value, str) or not _COLOR.match(value):
                raise ValueError
            return value.lower()
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError
            return value
        if self.kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError
            if self.kind == "int" and not isinstance(value, int):
                raise ValueError
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError
            value = int(value) if self.kind == "int" else float(value)
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise ValueError
            return value
        if not isinstance(value, str):
            raise ValueError
        if self.kind == "choice" and value not in self.choices:
            raise ValueError
        if self.kind == "slug" and not _SLUG.match(value):
            raise ValueError
        if self.kind in ("str", "path", "slug") and not value.strip():
            raise ValueError
        return value


@dataclass(frozen=True)
class Section:
    """A mapping of keys to :class:`Field` (or nested :class:`Section`) specs."""

    children: Mapping[str, "Field | Section"]
    build: Callable[..., Any] = dict


def validate(raw: Any, spec: Field | Section, key_path: str, source: str) -> Any:
    """Validate ``raw`` against ``spec`` recursively; build the section objects."""
    where = f"{source}: {key_path}" if key_path else source
    if isinstance(spec, Field):
        try:
            return spec.convert(raw)
        except ValueError:
            raise ConfigError(
                f"{where}: expected {spec.describe()}, got {raw!r} ({type(raw).__name__})"
            ) from None
    if raw is None:
        raw = {}
    allowed = ", ".join(spec.children)
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: expected a mapping with keys {allowed}, got {raw!r} "
            f"({type(raw).__name__})"
        )
    for key in raw:
        if key not in spec.children:
            close = difflib.get_close_matches(str(key), list(spec.children), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            prefix = f"{key_path}.{key}" if key_path else str(key)
            raise ConfigError(f"{source}: {prefix}: unknown key{hint}; allowed keys: {allowed}")
    values = {}
    for key, child in spec.children.items():
        child_path = f"{key_path}.{key}" if key_path else key
        if key in raw:
            values[key] = validate(raw[key], child, child_path, source)
        elif isinstance(child, Section):
            values[key] = validate({}, child, child_path, source)
        elif child.required:
            raise ConfigError(
                f"{source}: {child_path}: required key missing; expected {child.describe()}"
            )
        else:
            values[key] = child.default
    return spec.build(**values)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable key; construct_mapping reports it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path, source: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not valid UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the file ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}, line {mark.line + 1}, column {mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML syntax error: {exc}") from None

