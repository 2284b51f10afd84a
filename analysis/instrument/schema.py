"""Load an instrument file: strict YAML parsing and schema checks.

:func:`load_instrument` reads ``survey/instrument.yaml`` (or another file of the same
shape), checks it strictly and returns a frozen :class:`~analysis.instrument.model.Instrument`.
Every problem is one :class:`~analysis.errors.ConfigError` naming the file and the key
path, e.g. ``survey/instrument.yaml: items[12] (SAT2).text: missing language 'zh-Hant';
expected all of en, zh-Hans, zh-Hant``.

The file format is documented in ``survey/README.md``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from analysis.errors import ConfigError
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
from analysis.paths import DEFAULT_INSTRUMENT, PROJECT_ROOT

__all__ = ["load_instrument"]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys instead of keeping the last one."""


def _construct_unique_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # unhashable key: let SafeConstructor report it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)

_TOP_KEYS = ("id", "version", "languages", "title", "introduction", "consent", "instructions",
             "closing", "scale", "blocks", "constructs", "items", "demographics")
_ITEM_KEYS = ("id", "construct", "block", "text")
_ITEM_OPTIONAL = ("reverse", "attention_check", "expected")
_CODE_PATTERN = re.compile(r"^[A-Z]+$")
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_INSTRUMENT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_CJK = "\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
_CJK_GAP = re.compile(f"[{_CJK}]\\s+[{_CJK}]")


def _display_name(path: Path) -> str:
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def _label(path: str, index: int, entry: Any, key: str) -> str:
    name = entry.get(key) if isinstance(entry, dict) else None
    return f"{path}[{index}] ({name})" if isinstance(name, str) else f"{path}[{index}]"


class _Validator:
    """Turns the parsed YAML document into an Instrument, or raises one ConfigError."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.languages: tuple[str, ...] = SUPPORTED_LANGUAGES

    def fail(self, path: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}")

    def mapping(self, value: Any, path: str, required: tuple[str, ...],
                optional: tuple[str, ...] = ()) -> dict:
        allowed = ", ".join(required + optional)
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping with keys {allowed}; got {_describe(value)}")
        for key in value:
            if key not in required + optional:
                raise self.fail(path, f"unknown key {key!r}; allowed keys: {allowed}")
        for key in required:
            if key not in value:
                raise self.fail(path, f"missing key {key!r}; required keys: {', '.join(required)}")
        return value

    def sequence(self, value: Any, path: str, minimum: int = 1) -> list:
        if not isinstance(value, list) or len(value) < minimum:
            raise self.fail(path, f"expected a list of at least {minimum} entries; got {_describe(value)}")
        return value

    def string(self, value: Any, path: str, pattern: re.Pattern | None = None, hint: str = "") -> str:
        if not isinstance(value, str) or not value.strip():
            quote = " (quote it in the YAML file)" if isinstance(value, (int, float, bool)) else ""
            raise self.fail(path, f"expected a non-empty string{quote}; got {_describe(value)}")
        if pattern is not None and not pattern.match(value):
            raise self.fail(path, f"expected {hint}; got {value!r}")
        return value

    def flag(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false; got {_describe(value)}")
        return value

    def text(self, value: Any, path: str) -> dict[str, str]:
        expected = ", ".join(self.languages)
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping language -> text for {expected}; "
                                  f"got {_describe(value)}")
        for language in value:
            if language not in self.languages:
                raise self.fail(path, f"unknown language {language!r}; expected all of {expected}")
        for language in self.languages:
            if language not in value:
                raise self.fail(path, f"missing language {language!r}; expected all of {expected}")
        texts = {lang: self.string(value[lang], f"{path}.{lang}").strip() for lang in self.languages}
        for language, text in texts.items():
            if language.startswith("zh") and _CJK_GAP.search(text):
                raise self.fail(f"{path}.{language}", "space between Chinese characters (YAML '>' folding "
                                                      "adds one per line break); write Chinese on one line")
        return texts

    def unique(self, seen: set[str], value: str, path: str, what: str) -> None:
        if value in seen:
            raise self.fail(path, f"duplicate {what} {value!r}; each {what} must appear once")
        seen.add(value)

    # --- sections ---------------------------------------------------------------------

    def instrument(self, document: Any, source_path: Path) -> Instrument:
        top = self.mapping(document, "", _TOP_KEYS)
        self.languages = self.language_list(top["languages"])
        scale = self.scale(top["scale"])
        blocks = self.blocks(top["blocks"])
        constructs = self.constructs(top["constructs"])
        items = self.items(top["items"], scale, {c.code: c for c in constructs}, blocks)
        texts = {key: self.text(top[key], key)
                 for key in ("title", "introduction", "consent", "instructions", "closing")}
        return Instrument(
            id=self.string(top["id"], "id", _INSTRUMENT_ID_PATTERN,
                           "a lower-case identifier such as 'eloyalty-core'"),
            version=self.string(top["version"], "version"),
            languages=self.languages, scale=scale, constructs=constructs, items=items,
            demographics=self.demographics(top["demographics"], {item.id for item in items}),
            source_path=source_path, block_specs=blocks, **texts,
        )

    def language_list(self, value: Any) -> tuple[str, ...]:
        seen: set[str] = set()
        for index, language in enumerate(self.sequence(value, "languages")):
            if language not in SUPPORTED_LANGUAGES:
                raise self.fail(f"languages[{index}]", f"unsupported language {language!r}; "
                                                       f"expected one of {', '.join(SUPPORTED_LANGUAGES)}")
            self.unique(seen, language, f"languages[{index}]", "language")
        if "en" not in seen:
            raise self.fail("languages", "must include 'en' (descriptions and the codebook are English)")
        return tuple(value)

    def scale(self, value: Any) -> Scale:
        scale = self.mapping(value, "scale", ("points", "anchors"))
        points = scale["points"]
        if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= 11:
            raise self.fail("scale.points", f"expected an integer from 2 to 11; got {_describe(points)}")
        anchors = self.mapping(scale["anchors"], "scale.anchors", self.languages)
        labelled: dict[str, dict[int, str]] = {}
        for language in self.languages:
            path, labels = f"scale.anchors.{language}", anchors[language]
            if not isinstance(labels, dict):
                raise self.fail(path, f"expected a mapping point -> label; got {_describe(labels)}")
            for point in labels:
                if isinstance(point, bool) or point not in range(1, points + 1):
                    raise self.fail(path, f"unexpected point {point!r}; expected the integers 1..{points}")
            for point in range(1, points + 1):
                if point not in labels:
                    raise self.fail(path, f"missing anchor for point {point}; "
                                          f"expected a label for every point 1..{points}")
            labelled[language] = {p: self.string(labels[p], f"{path}.{p}") for p in range(1, points + 1)}
        return Scale(points=points, anchors=labelled)

    def blocks(self, value: Any) -> tuple[Block, ...]:
        seen: set[str] = set()
        blocks = []
        for index, entry in enumerate(self.sequence(value, "blocks")):
            path = _label("blocks", index, entry, "id")
            entry = self.mapping(entry, path, ("id", "title"), ("intro",))
            block_id = self.string(entry["id"], f"{path}.id", _NAME_PATTERN, "a snake_case identifier")
            self.unique(seen, block_id, f"{path}.id", "block id")
            intro = self.text(entry["intro"], f"{path}.intro") if "intro" in entry else {}
            blocks.append(Block(block_id, self.text(entry["title"], f"{path}.title"), intro))
        return tuple(blocks)

    def constructs(self, value: Any) -> tuple[Construct, ...]:
        seen: set[str] = set()
        constructs = []
        for index, entry in enumerate(self.sequence(value, "constructs")):
            path = _label("constructs", index, entry, "code")
            entry = self.mapping(entry, path, ("code", "name", "role", "description", "source"))
            code = self.string(entry["code"], f"{path}.code", _CODE_PATTERN,
                               "upper-case letters such as 'SAT'")
            self.unique(seen, code, f"{path}.code", "construct code")
            if entry["role"] not in CONSTRUCT_ROLES:
                raise self.fail(f"{path}.role", f"expected one of {', '.join(CONSTRUCT_ROLES)}; "
                                                f"got {entry['role']!r}")
            constructs.append(Construct(
                code, self.text(entry["name"], f"{path}.name"), entry["role"],
                self.string(entry["description"], f"{path}.description").strip(),
                self.string(entry["source"], f"{path}.source").strip(),
            ))
        return tuple(constructs)

    def items(self, value: Any, scale: Scale, constructs: dict[str, Construct],
              blocks: tuple[Block, ...]) -> tuple[Item, ...]:
        block_order = [block.id for block in blocks]
        seen: set[str] = set()
        numbering: dict[str, int] = {}
        opened: list[str] = []  # blocks in the order the items open them
        items = []
        for index, entry in enumerate(self.sequence(value, "items")):
            path = _label("items", index, entry, "id")
            entry = self.mapping(entry, path, _ITEM_KEYS, _ITEM_OPTIONAL)
            item_id = self.string(entry["id"], f"{path}.id")
            self.unique(seen, item_id, f"{path}.id", "item id")
            code, block = entry["construct"], entry["block"]
            if code not in constructs:
                raise self.fail(f"{path}.construct", f"unknown construct {code!r}; "
                                                     f"expected one of {', '.join(constructs)}")
            numbering[code] = numbering.get(code, 0) + 1
            if item_id != f"{code}{numbering[code]}":
                raise self.fail(f"{path}.id", f"expected '{code}{numbering[code]}' (each construct's "
                                              f"items are numbered from 1 in file order); got {item_id!r}")
            if block not in block_order:
                raise self.fail(f"{path}.block", f"unknown block {block!r}; "
                                                 f"expected one of {', '.join(block_order)}")
            if not opened or opened[-1] != block:
                if block in opened:
                    raise self.fail(f"{path}.block", f"block {block!r} was closed by earlier items; items "
                                                     "of a block must be contiguous (file order is page order)")
                if block_order[len(opened)] != block:
                    raise self.fail(f"{path}.block", f"expected block {block_order[len(opened)]!r} next "
                                                     f"(the order of 'blocks'); got {block!r}")
                opened.append(block)
            item = Item(item_id, code, block, self.text(entry["text"], f"{path}.text"),
                        self.flag(entry.get("reverse", False), f"{path}.reverse"),
                        self.flag(entry.get("attention_check", False), f"{path}.attention_check"),
                        entry.get("expected"))
            self.check_item_flags(item, path, scale, constructs[code])
            items.append(item)
        for index, block in enumerate(block_order):
            if block not in opened:
                raise self.fail(f"blocks[{index}] ({block})", "no items are assigned to this block")
        for index, code in enumerate(constructs):
            if code not in numbering:
                raise self.fail(f"constructs[{index}] ({code})", "no items measure this construct")
        return tuple(items)

    def check_item_flags(self, item: Item, path: str, scale: Scale, construct: Construct) -> None:
        if item.attention_check != (construct.role == "attention"):
            raise self.fail(f"{path}.attention_check",
                            f"must be {str(not item.attention_check).lower()} because construct "
                            f"{construct.code} has role {construct.role!r}")
        if not item.attention_check:
            if item.expected is not None:
                raise self.fail(f"{path}.expected", "only attention-check items may set 'expected'")
            return
        if item.reverse:
            raise self.fail(f"{path}.reverse", "an attention-check item cannot be reverse-keyed")
        expected = item.expected
        if isinstance(expected, bool) or not isinstance(expected, int) or not 1 <= expected <= scale.points:
            raise self.fail(f"{path}.expected", f"expected an integer from 1 to {scale.points} "
                                                f"(a scale point); got {_describe(expected)}")
        for language in self.languages:
            label = scale.anchors[language][expected]
            if label not in item.text[language] and str(expected) not in item.text[language]:
                raise self.fail(f"{path}.text.{language}", f"must name the expected answer {expected} "
                                                           f"({label!r}) so respondents know what to pick")

    def demographics(self, value: Any, item_ids: set[str]) -> tuple[Demographic, ...]:
        seen: set[str] = set()
        demographics = []
        for index, entry in enumerate(self.sequence(value, "demographics")):
            path = _label("demographics", index, entry, "id")
            entry = self.mapping(entry, path, ("id", "label", "options"))
            var = self.string(entry["id"], f"{path}.id", _NAME_PATTERN, "a snake_case identifier")
            self.unique(seen, var, f"{path}.id", "demographic id")
            if var in item_ids:
                raise self.fail(f"{path}.id", f"{var!r} is already an item id; variable names must differ")
            codes: set[str] = set()
            options = []
            for number, option in enumerate(self.sequence(entry["options"], f"{path}.options", 2)):
                option_path = _label(f"{path}.options", number, option, "code")
                option = self.mapping(option, option_path, ("code", "label"))
                code = self.string(option["code"], f"{option_path}.code")
                self.unique(codes, code, f"{option_path}.code", "option code")
                options.append((code, self.text(option["label"], f"{option_path}.label")))
            label = self.text(entry["label"], f"{path}.label")
            demographics.append(Demographic(var, label, tuple(options)))
        return tuple(demographics)


def load_instrument(path: str | Path | None = None) -> Instrument:
    """Read and validate an instrument file (default ``survey/instrument.yaml``).

    Raises
    ------
    ConfigError
        If the file is missing, is not valid YAML, or breaks any schema rule; the message
        names the file and the key path.
    """
    source_path = Path(DEFAULT_INSTRUMENT if path is None else path)
    source = _display_name(source_path)
    try:
        raw_text = source_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: instrument file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not valid UTF-8 text (byte {exc.start})") from None
    try:
        document = yaml.load(raw_text, Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from None
    return _Validator(source).instrument(document, source_path.resolve())
