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

from analysis.errors import MESSAGE_LIMIT, ConfigError, one_line, shorten

__all__ = ["Field", "Section", "Problems", "validate", "validate_sections", "read_yaml", "MAX_YAML_BYTES", "MAX_TEXT"]

_REQUIRED = object()
#: Longest text value a profile key takes (titles, names, paths); longer is a mistake, not a title.
MAX_TEXT = 1000
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _number(value: float) -> str:
    """A bound as written in a profile: 2000000 rather than 2e+06."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


#: Kinds for survey-export settings (data.columns, data.recode, data.missing_codes, data.sheet).
_DATA_KINDS = {
    "mapping": "a mapping of ids to column names (may be empty)",
    "points": "a mapping of answer texts to whole numbers between {lo} and {hi} (may be empty)",
    "texts": "a list of strings",
    "sheet": "a sheet name or a 0-based sheet position, or null",
}


def _convert_data_kind(spec: "Field", value: Any) -> Any:
    if spec.kind == "sheet":
        if value is None or (isinstance(value, str) and value.strip() and len(value) <= MAX_TEXT):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise ValueError
    if spec.kind == "texts":
        if not isinstance(value, list) or any(isinstance(v, (bool, dict, list)) or v is None for v in value):
            raise ValueError
        return tuple(str(v) for v in value)
    if value is None:
        return {}
    if not isinstance(value, dict) or any(not isinstance(k, (str, int)) or isinstance(k, bool) for k in value):
        raise ValueError
    if spec.kind == "mapping":
        if any(not isinstance(v, (str, int)) or isinstance(v, bool) or not str(v).strip()
               or len(str(v)) > MAX_TEXT for v in value.values()):
            raise ValueError
        return {str(k): str(v) for k, v in value.items()}
    if any(isinstance(v, bool) or not isinstance(v, int) or not spec.minimum <= v <= spec.maximum
           for v in value.values()):
        raise ValueError
    return {str(k): int(v) for k, v in value.items()}


@dataclass(frozen=True)
class Field:
    """One leaf key: its type (``kind``), default, allowed range or choices."""

    kind: str  # "str", "text" (may be empty), "slug", "int", "float", "bool", "choice", "choices"
    #            (a list of distinct choices), "ints" (a list of distinct integers in range),
    #            "numbers" (a mapping of names to numbers in range), "path", "color" (#rrggbb),
    #            "mapping" (names to non-empty strings), "points" (texts to integers in range),
    #            "texts" (a list of strings), "sheet" (a name, or a position >= 0)
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
        if self.kind in _DATA_KINDS:
            return _DATA_KINDS[self.kind].format(lo=_number(self.minimum or 0), hi=_number(self.maximum or 0))
        if self.minimum is not None and self.maximum is not None:
            return f"{noun} between {_number(self.minimum)} and {_number(self.maximum)}"
        if self.minimum is not None:
            return f"{noun} >= {_number(self.minimum)}"
        return noun + (" or null" if self.nullable else "")

    def convert(self, value: Any) -> Any:
        """Return the typed value, or raise ValueError if it does not fit."""
        if value is None and self.nullable:
            return None
        if self.kind in _DATA_KINDS:
            return _convert_data_kind(self, value)
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
        if len(value) > MAX_TEXT:
            raise ValueError
        return value


@dataclass(frozen=True)
class Section:
    """A mapping of keys to :class:`Field` (or nested :class:`Section`) specs."""

    children: Mapping[str, "Field | Section"]
    build: Callable[..., Any] = dict


class Problems:
    """Every problem of one file, collected so that the user sees them all at once.

    :meth:`add` records ``key: what`` (key paths such as ``analysis.seed``);
    :meth:`raise_if_any` raises one :class:`~analysis.errors.ConfigError` whose message
    is ``<file>: 3 problems: a.b: ...; c: ...; d: ...`` (cut to fit 300 characters with
    "(and N more)") and whose ``problems`` attribute holds the full list.
    """

    def __init__(self, source: str):
        self.source = source
        self.items: list[str] = []

    def add(self, key: str, what: str) -> None:
        self.items.append(f"{key}: {what}" if key else what)

    def __bool__(self) -> bool:
        return bool(self.items)

    def message(self) -> str:
        """One line: all problems when they fit, else the first ones, each cut, and "(and N more)"."""
        if len(self.items) == 1:
            return f"{self.source}: {self.items[0]}"
        head = f"{self.source}: {len(self.items)} problems: "
        budget = MESSAGE_LIMIT - len("error: ") - len(head) - len(" (and 99 more)")
        # each problem gets an equal share of the line (at least 60 characters), so the first
        # three keys are always named even when the file's path is long
        share = max(60, budget // min(len(self.items), 3) - 2)
        shown: list[str] = []
        for item in self.items:
            # the allowed keys are listed when a problem is alone (and in ``problems``); here
            # the room goes to naming every problem
            part = one_line(item.split("; allowed keys: ")[0], share)
            if len("; ".join(shown + [part])) > budget:
                break
            shown.append(part)
        left = len(self.items) - len(shown)
        return head + "; ".join(shown) + (f" (and {left} more)" if left else "")

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.message(), problems=[f"{self.source}: {item}" for item in self.items])


_INVALID = object()  # a value that failed validation (its problem is already recorded)


def validate(raw: Any, spec: Field | Section, key_path: str, source: str,
             problems: Problems | None = None) -> Any:
    """Validate ``raw`` against ``spec`` recursively and build the section objects.

    Every problem is collected (unknown keys with a did-you-mean, wrong types, values
    out of range, missing required keys). Without ``problems`` one ConfigError listing
    them all is raised; with a :class:`Problems` collector they are added to it and the
    return value is ``None`` if anything failed, so that the caller can add cross-field
    problems before raising once.
    """
    collector = Problems(source) if problems is None else problems
    before = len(collector.items)
    value = _walk(raw, spec, key_path, collector)
    if problems is None:
        collector.raise_if_any()
    return None if len(collector.items) > before or value is _INVALID else value


def _walk(raw: Any, spec: Field | Section, key_path: str, problems: Problems) -> Any:
    if isinstance(spec, Field):
        try:
            return spec.convert(raw)
        except ValueError:
            if isinstance(raw, str) and len(raw) > MAX_TEXT:
                problems.add(key_path, f"expected at most {MAX_TEXT} characters, got {len(raw)} starting "
                                       f"{shorten(raw, 30)}")
            else:
                problems.add(key_path, f"expected {spec.describe()}, got {shorten(raw)} ({type(raw).__name__})")
            return _INVALID
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.add(key_path, f"expected a mapping with keys {', '.join(spec.children)}, "
                               f"got {shorten(raw)} ({type(raw).__name__})")
        return _INVALID
    for key in raw:
        if key not in spec.children:
            close = difflib.get_close_matches(str(key), list(spec.children), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            prefix = f"{key_path}.{key}" if key_path else str(key)
            problems.add(one_line(prefix, 60), f"unknown key{hint}; allowed keys: {', '.join(spec.children)}")
    values, failed = {}, False
    for key, child in spec.children.items():
        child_path = f"{key_path}.{key}" if key_path else key
        if key in raw:
            values[key] = _walk(raw[key], child, child_path, problems)
        elif isinstance(child, Section):
            values[key] = _walk({}, child, child_path, problems)
        elif child.required:
            problems.add(child_path, f"required key missing; expected {child.describe()}")
            values[key] = _INVALID
        else:
            values[key] = child.default
        failed = failed or values[key] is _INVALID
    return _INVALID if failed else spec.build(**values)


#: Largest profile file read (bytes); a profile is a page of settings, not data.
MAX_YAML_BYTES = 256 * 1024


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and aliases.

    PyYAML silently keeps the last of duplicate keys. Aliases (``*name``) are refused
    outright: a profile never needs them, and nested aliases ("billion laughs") expand to
    millions of values from a few hundred bytes.
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"alias *{one_line(str(event.anchor), 30)} is not allowed (anchors and aliases are "
                "refused in this file; write the value out)", event.start_mark)
        return super().compose_node(parent, index)


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
                None, None, f"duplicate key {shorten(key)} (first given on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path, source: str) -> Any:
    """Parse a YAML settings file strictly: UTF-8, at most 256 kB, no duplicate keys, no aliases.

    Raises
    ------
    ConfigError
        One line naming ``source`` (and the line and column of a syntax error).
    """
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(f"{source}: the file is {size / 1024:.0f} kB; expected a settings file of at most "
                              f"{MAX_YAML_BYTES // 1024} kB")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not valid UTF-8 text ({exc.reason} at byte {exc.start}); "
                          "save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the file ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}, line {mark.line + 1}, column {mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: YAML syntax error: {one_line(problem, 160)}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML syntax error: {one_line(str(exc), 160)}") from None
    except RecursionError:
        raise ConfigError(f"{source}: YAML nested too deeply") from None


def validate_sections(raw: Mapping, schema: Mapping[str, Section], problems: Problems) -> dict[str, Any]:
    """Validate a document's top-level sections, collecting every problem in ``problems``.

    Returns ``{section: built object}`` with ``None`` for a section that has a problem,
    so that cross-field checks can still run on the sections that are valid.
    """
    for key in raw:
        if key not in schema:
            close = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.add(one_line(str(key), 60), f"unknown key{hint}; allowed keys: {', '.join(schema)}")
    built = {}
    for name, spec in schema.items():
        value = _walk(raw.get(name), spec, name, problems)
        built[name] = None if value is _INVALID else value
    return built
