"""Scenario errors that name the file, the line, the field path, what was found and what is expected.

Every problem is an :class:`Issue`; :class:`ScenarioError` (a :class:`~jwmsim.errors.ConfigError`,
exit code 2) carries one or several. :func:`issues_from_validation` converts a pydantic
``ValidationError`` into issues, using the YAML line map of :mod:`jwmsim.scenario.yaml_source`.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from jwmsim.errors import ConfigError
from jwmsim.scenario.params import closest, describe

Loc = tuple[str | int, ...]

DOCS = "docs/scenarios.md (reference: docs/reference/scenario-format.md)"


@dataclass(frozen=True)
class Issue:
    """One problem in a scenario file.

    Attributes:
        file: the scenario file; line: 1-based line (None when unknown);
        path: field path, e.g. ``actors[0].speed`` ('' for the whole file);
        found / expected: what the file has and what would be valid.
    """

    file: str
    line: int | None
    path: str
    found: str
    expected: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} found {self.found}, expected {self.expected}"


class ScenarioError(ConfigError):
    """A scenario file is invalid; ``issues`` lists every problem found (exit code 2)."""

    def __init__(self, issues: Sequence[Issue], hint: str | None = None) -> None:
        self.issues = list(issues)
        if len(self.issues) == 1:
            message = str(self.issues[0])
        else:
            message = f"{len(self.issues)} problems in {self.issues[0].file}:\n" + "\n".join(
                f"  {issue}" for issue in self.issues
            )
        super().__init__(message, hint=hint or f"the scenario format is described in {DOCS}")


class LogDataMissing(ScenarioError):
    """The scenario's log data (a nuScenes dataroot outside the repository) is not on this
    machine; a library evaluation skips such a scenario by name."""


def format_loc(loc: Loc) -> str:
    """``("actors", 0, "speed")`` -> ``actors[0].speed``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_path(path: str) -> Loc:
    """Inverse of :func:`format_loc`: ``actors[0].speed`` -> ``("actors", 0, "speed")``."""
    loc: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        loc.append(int(index) if index else name)
    return tuple(loc)


def line_of(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """Line of ``loc``, or of its nearest ancestor in the file."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


# ------------------------------------------------------------------------------------------------
# pydantic -> issues
# ------------------------------------------------------------------------------------------------
def _data_loc(data: Any, loc: Loc, missing: bool) -> Loc:
    """The part of pydantic's ``loc`` that names places in the input: union tags and validator
    names (not keys of the input) are dropped, except the last key when it is ``missing``."""
    out: list[str | int] = []
    node = data
    for k, part in enumerate(loc):
        last = k == len(loc) - 1
        if isinstance(node, Mapping) and part in node:
            node = node[part]
            out.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        elif last and missing and isinstance(part, str) and isinstance(node, Mapping):
            out.append(part)  # a missing field
    return tuple(out)


def _members(tp: Any) -> list[Any]:
    """The alternatives of a type: Annotated stripped, nested unions flattened, None dropped."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _members(a) if m is not type(None)]
    return [tp]


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class validating the input at pydantic's ``loc`` (lists and tagged unions
    followed)."""
    current: list[Any] = [root]
    for part in loc:
        models = [m for m in current if isinstance(m, type) and issubclass(m, BaseModel)]
        tagged = [
            m
            for m in models
            if "type" in m.model_fields and part in typing.get_args(m.model_fields["type"].annotation)
        ]
        if tagged:  # a union tag: keep only that member
            current = tagged
            continue
        nxt: list[Any] = []
        for m in current:
            if isinstance(m, type) and issubclass(m, BaseModel) and part in m.model_fields:
                nxt += _members(m.model_fields[part].annotation)
            elif typing.get_origin(m) in (list, tuple) and isinstance(part, int):
                nxt += _members(typing.get_args(m)[0])
        if not nxt:
            return None
        current = nxt
    models = [m for m in current if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if len(models) == 1 else None


_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "a string (text)",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list (- item lines or [a, b])",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "tuple_type": "a list",
}


def _expected(err: Mapping[str, Any], root: type[BaseModel], loc: Loc) -> tuple[str, str]:
    """``(found, expected)`` for one pydantic error dict (``loc``: pydantic's own)."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind.startswith("jwm_"):
        return str(ctx.get("found", describe(value))), str(ctx.get("expected", err["msg"]))
    if kind == "missing":
        return "nothing", f"the required field {loc[-1]!r}"
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        allowed = list(model.model_fields) if model is not None else []
        near = closest(str(loc[-1]), allowed)
        expected = f"one of the fields {allowed}" if allowed else "no such field"
        return f"unknown field {loc[-1]!r}", expected + (f" (did you mean {near!r}?)" if near else "")
    if kind == "union_tag_invalid":
        tags = re.findall(r"'([^']+)'", str(ctx.get("expected_tags", "")))
        near = closest(str(ctx.get("tag")), tags)
        what = "behaviour" if "idm" in tags else "trigger" if "ttc" in tags else "type"
        return (
            f"type {ctx.get('tag')!r}",
            f"a known {what} type: one of {tags}" + (f" (did you mean {near!r}?)" if near else ""),
        )
    if kind == "union_tag_not_found":
        return describe(value), f"a mapping with a 'type' field ({ctx.get('discriminator', 'type')})"
    if kind == "literal_error":
        return describe(value), f"one of {ctx.get('expected')}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[
            kind
        ]
        bound = next(iter(ctx.values()), "?")
        return describe(value), f"a value {op} {bound}"
    if kind in ("too_short", "too_long"):
        return describe(value), err["msg"].replace("List should", "a list that should").replace(
            "Value should", "a value that should"
        )
    if kind == "string_too_short":
        return describe(value), "a non-empty string"
    if kind == "string_pattern_mismatch":
        return describe(value), "letters, digits and _ . : - only"
    if kind in _TYPE_WORDS:
        return describe(value), _TYPE_WORDS[kind]
    return describe(value), err["msg"]


def issues_from_validation(
    exc: ValidationError, root: type[BaseModel], data: Any, file: str, lines: Mapping[Loc, int]
) -> list[Issue]:
    """One :class:`Issue` per pydantic error, located in the file."""
    issues = []
    for err in exc.errors(include_url=False):
        loc = _data_loc(data, tuple(err["loc"]), err["type"] == "missing")
        ctx = err.get("ctx") or {}
        if "issues" in ctx:  # several cross-field problems found by one validator
            for path, found, expected in ctx["issues"]:
                sub = loc + parse_path(path)
                issues.append(Issue(file, line_of(lines, sub), format_loc(sub), found, expected))
            continue
        if "path" in ctx:
            loc = loc + parse_path(str(ctx["path"]))
        elif "field" in ctx:
            loc = loc + (str(ctx["field"]),)
        found, expected = _expected(err, root, tuple(err["loc"]))
        issues.append(Issue(file, line_of(lines, loc), format_loc(loc), found, expected))
    return issues


def display_path(path: str | Path) -> str:
    """A path as the user gave it (relative paths stay relative)."""
    return str(path)
