"""YAML → pydantic with errors that name the key and the line, e.g.
`configs/site.yaml:14: cameras.0.sourcee: Extra inputs are not permitted`.

PyYAML's composed node tree keeps the line of every key; pydantic's error `loc` is the key path. Matching the two
gives each validation error its line without a custom YAML parser.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

KeyPath = tuple[str | int, ...]


class ConfigError(ValueError):
    """A configuration file that cannot be used; `lines` holds one message per problem, each with file:line."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _walk(node: yaml.Node, path: KeyPath) -> Iterator[tuple[KeyPath, int]]:
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            # The key's own line is where a person looks for an unknown or mistyped key.
            yield (*path, key), key_node.start_mark.line + 1
            for sub_path, line in _walk(value_node, (*path, key)):
                if sub_path != (*path, key):
                    yield sub_path, line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*path, index))


def _duplicate_keys(node: yaml.Node, path: KeyPath) -> Iterator[tuple[KeyPath, int, int]]:
    """Each key that repeats one before it in the same mapping: (key path, its line, the first one's line).

    PyYAML keeps the last value of a repeated key without a word: the first one, the one a person reads, would
    silently not count. (A key after a `<<:` merge is an override, not a duplicate: merges are not expanded here.)
    """
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_line:
                yield (*path, key), line, first_line[key]
            else:
                first_line[key] = line
            yield from _duplicate_keys(value_node, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, index))


def load_yaml(path: Path) -> tuple[Any, dict[KeyPath, int]]:
    """Parse a YAML file; returns the data and the line of every key path. Syntax errors, repeated keys and an empty
    file become ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ConfigError([f"{path}:{line}: not a UTF-8 text file (a YAML config was expected)"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read config file: {exc.strerror}"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError([f"{path}:{line}: YAML syntax error: {exc.problem}"]) from None
    if node is None or data is None:
        # Nothing to validate and no line to cite: "cameras: Field required" at line 0 would send a person looking
        # for a key in a file that has none.
        raise ConfigError([f"{path}:1: the file is empty (no config keys, only blank lines, comments or null): a "
                           "YAML mapping of config keys was expected"])
    duplicates = [f"{path}:{line}: {'.'.join(str(p) for p in key_path)}: duplicate key (first at line {first})"
                  for key_path, line, first in _duplicate_keys(node, ())]
    if duplicates:
        raise ConfigError(duplicates)
    return data, dict(_walk(node, ()))


def line_for(loc: KeyPath, lines: Mapping[KeyPath, int]) -> int:
    """The line of a key path; a key not in the file (missing) has its nearest parent's line; 0 when unknown."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 0


def where(path: Path, loc: KeyPath, lines: Mapping[KeyPath, int]) -> str:
    """`file:line` of a key path, or just `file` when its line is unknown (a config built in code)."""
    line = line_for(loc, lines)
    return f"{path}:{line}" if line else str(path)


def validate(model: type[M], data: Any, lines: dict[KeyPath, int], path: Path) -> M:
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        messages = []
        errors = exc.errors()
        inner = [tuple(e["loc"]) for e in errors]
        for err in errors:
            # A list whose item failed is also reported "too short" (it counts only the items that validated):
            # that second error names a problem the file does not have.
            if err["type"] == "too_short" and any(len(i) > len(err["loc"]) and i[:len(err["loc"])] == tuple(err["loc"])
                                                  for i in inner):
                continue
            loc: KeyPath = tuple(part for part in err["loc"] if isinstance(part, str | int))
            # Discriminated unions add the tag as a path element that is not in the file.
            file_loc = tuple(p for p in loc if p in _keys_in(lines) or isinstance(p, int))
            key = ".".join(str(p) for p in loc) or "(top level)"
            messages.append(f"{where(path, file_loc, lines)}: {key}: {err['msg']}")  # never "file:0"
        raise ConfigError(messages) from None


def _keys_in(lines: dict[KeyPath, int]) -> set[str | int]:
    return {part for key_path in lines for part in key_path}


def load_model(model: type[M], path: Path) -> M:
    data, lines = load_yaml(path)
    return validate(model, data, lines, path)
