"""Read a YAML file into plain data plus a map from field path to line number.

PyYAML's composer gives nodes with ``start_mark.line``; the data is constructed from the same node
tree, so each path of the data (``("actors", 0, "speed")``) has the line it was written on (keys
point at the key's line). Duplicate keys, which PyYAML would silently overwrite, are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from jwmsim.scenario.errors import Issue, Loc, format_loc


@dataclass(frozen=True)
class YamlSource:
    """A parsed YAML document.

    Attributes:
        data: the document as dicts, lists and scalars.
        lines: 1-based line of every field path (mapping keys: the key's line).
        file: the file name, for messages.
    """

    data: Any
    lines: dict[Loc, int]
    file: str


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], issues: list[Issue], file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if key in seen:
                issues.append(
                    Issue(
                        file,
                        line,
                        format_loc(loc + (key,)),
                        f"the key {key!r} a second time (first on line {seen[key]})",
                        "each key once per mapping",
                    )
                )
                continue
            seen[key] = line
            if key is None:
                continue
            sub = loc + (key,)
            lines[sub] = line
            _walk(value_node, sub, lines, issues, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = loc + (i,)
            lines[sub] = item.start_mark.line + 1
            _walk(item, sub, lines, issues, file)


def _int_keys(data: Any) -> Any:
    """YAML allows non-string keys; field names are strings, so numbers etc. become their text."""
    if isinstance(data, dict):
        return {(k if isinstance(k, str) else str(k)): _int_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_int_keys(v) for v in data]
    return data


def parse_yaml(text: str, file: str) -> tuple[YamlSource | None, list[Issue]]:
    """Parse ``text``; returns the source (None on a syntax error) and the issues found."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Issue(file, 1, "", "an empty file", "a YAML mapping starting with 'version: 1'")]
        lines: dict[Loc, int] = {(): node.start_mark.line + 1}
        issues: list[Issue] = []
        _walk(node, (), lines, issues, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = err.problem or "invalid YAML"
        context = f" ({err.context})" if err.context else ""
        return None, [
            Issue(
                file,
                line,
                "",
                f"a YAML syntax error: {problem}{context}",
                "valid YAML (check indentation, colons and brackets on this line or the one above)",
            )
        ]
    except yaml.YAMLError as err:
        return None, [Issue(file, None, "", f"unreadable YAML: {err}", "a valid YAML document")]
    finally:
        loader.dispose()
    return YamlSource(_int_keys(data), lines, file), issues
