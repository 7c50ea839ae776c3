"""Jitterable scenario parameters: a plain value, or a range to draw from per run.

In YAML a numeric parameter is either a number (``12.5``), a uniform range
(``{uniform: [10, 30]}``: ``lo <= hi``, drawn uniformly in ``[lo, hi]``) or a discrete choice
(``{choice: [8, 10, 12]}``: one option with equal probability). Names (a lane, a direction) accept
``{choice: [...]}`` too. :func:`jwmsim.scenario.jitter.sample` replaces every range by a value.

The validators here raise :class:`pydantic_core.PydanticCustomError` of type ``jwm_value`` with
``found`` and ``expected`` in its context; :mod:`jwmsim.scenario.errors` turns them into messages.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError


@dataclass(frozen=True)
class Uniform:
    """A range ``[lo, hi]`` drawn uniformly per run."""

    lo: float
    hi: float

    def to_yaml(self) -> dict[str, list[float]]:
        return {"uniform": [self.lo, self.hi]}


@dataclass(frozen=True)
class Choice:
    """Discrete options, one drawn per run with equal probability."""

    options: tuple[Any, ...]

    def to_yaml(self) -> dict[str, list[Any]]:
        return {"choice": list(self.options)}


Distribution = (Uniform | Choice,)


def is_jittered(value: object) -> bool:
    """Whether ``value`` is a range still to be drawn."""
    return isinstance(value, (Uniform, Choice))


def describe(value: object, limit: int = 60) -> str:
    """Short, readable rendering of an input value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, dict):
        text = "a mapping {" + ", ".join(f"{k}: {describe(v, 20)}" for k, v in value.items()) + "}"
    elif isinstance(value, (list, tuple)):
        text = "a list [" + ", ".join(describe(v, 20) for v in value) + "]"
    else:
        text = f"{type(value).__name__} {value!r}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def value_error(found: object, expected: str, *, already_described: bool = False) -> PydanticCustomError:
    """A ``jwm_value`` error: what was found and what is expected."""
    shown = str(found) if already_described else describe(found)
    return PydanticCustomError(
        "jwm_value", "found {found}, expected {expected}", {"found": shown, "expected": expected}
    )


def closest(name: str, known: Sequence[str]) -> str | None:
    """The known name closest to ``name`` (difflib), or None when nothing is close."""
    hits = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return hits[0] if hits else None


def unknown_name_error(what: str, name: object, known: Sequence[str]) -> PydanticCustomError:
    """A ``jwm_value`` error for a name that is not among ``known``, suggesting the closest one."""
    expected = f"a known {what}: one of {sorted(known)}"
    near = closest(name, known) if isinstance(name, str) else None
    if near is not None:
        expected += f" (did you mean {near!r}?)"
    return value_error(name, expected)


# ------------------------------------------------------------------------------------------------
# Numbers
# ------------------------------------------------------------------------------------------------
def _bounds_text(ge: float | None, gt: float | None, le: float | None, lt: float | None, unit: str) -> str:
    parts = []
    if ge is not None:
        parts.append(f">= {ge:g}")
    if gt is not None:
        parts.append(f"> {gt:g}")
    if le is not None:
        parts.append(f"<= {le:g}")
    if lt is not None:
        parts.append(f"< {lt:g}")
    text = "a number" + (" " + " and ".join(parts) if parts else "")
    return text + (f" [{unit}]" if unit else "")


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def number_validator(
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    unit: str = "",
    jitter: bool = True,
) -> Callable[[Any], float | Uniform | Choice]:
    """A validator for a number within bounds, or (``jitter``) a range whose values all are."""
    plain = _bounds_text(ge, gt, le, lt, unit)
    allowed = plain + (", or {uniform: [lo, hi]} / {choice: [...]} of such numbers" if jitter else "")

    def in_bounds(x: float) -> bool:
        return (
            (ge is None or x >= ge)
            and (gt is None or x > gt)
            and (le is None or x <= le)
            and (lt is None or x < lt)
        )

    def check(x: object, where: str = "") -> float:
        if not _is_number(x):
            raise value_error(f"{where}{describe(x)}", allowed, already_described=True)
        if not in_bounds(float(x)):  # type: ignore[arg-type]
            raise value_error(f"{where}{describe(x)}", plain, already_described=True)
        return float(x)  # type: ignore[arg-type]

    def validate(value: Any) -> float | Uniform | Choice:
        if isinstance(value, (Uniform, Choice)):  # already parsed (model_copy / re-validation)
            return value
        if isinstance(value, dict) and jitter and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "uniform":
                if not (isinstance(arg, list) and len(arg) == 2):
                    raise value_error(
                        f"uniform: {describe(arg)}", "uniform: [lo, hi], two numbers", already_described=True
                    )
                lo, hi = check(arg[0], "uniform lo "), check(arg[1], "uniform hi ")
                if lo > hi:
                    raise value_error(f"uniform: [{lo:g}, {hi:g}]", "lo <= hi", already_described=True)
                return Uniform(lo, hi)
            if key == "choice":
                if not (isinstance(arg, list) and arg):
                    raise value_error(
                        f"choice: {describe(arg)}",
                        "choice: a non-empty list of numbers",
                        already_described=True,
                    )
                return Choice(tuple(check(a, f"choice[{i}] ") for i, a in enumerate(arg)))
        if isinstance(value, dict) and jitter:
            keys = ", ".join(str(k) for k in value)
            near = closest(str(next(iter(value), "")), ["uniform", "choice"])
            hint = f" (did you mean {near!r}?)" if near else ""
            raise value_error(f"a mapping with key(s) {keys}", f"{allowed}{hint}", already_described=True)
        return check(value)

    return validate


def _serialize(value: Any) -> Any:
    return value.to_yaml() if isinstance(value, (Uniform, Choice)) else value


def Number(  # noqa: N802  (reads like a type in annotations)
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    unit: str = "",
    jitter: bool = True,
) -> Any:
    """Annotated type of a jitterable number: ``speed: Number(ge=0, unit="m/s") = 10.0``."""
    return Annotated[
        float | Uniform | Choice,
        PlainValidator(number_validator(ge=ge, gt=gt, le=le, lt=lt, unit=unit, jitter=jitter)),
        PlainSerializer(_serialize),
        WithJsonSchema(_number_json_schema(ge=ge, gt=gt, le=le, lt=lt, unit=unit, jitter=jitter)),
    ]


def _jitter_json_schemas(item: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON Schemas of ``{uniform: [lo, hi]}`` and ``{choice: [...]}`` over values of ``item``."""
    uniform = {"type": "array", "items": item, "minItems": 2, "maxItems": 2}
    choice = {"type": "array", "items": item, "minItems": 1}
    return [
        {"type": "object", "properties": {key: array}, "required": [key], "additionalProperties": False}
        for key, array in (("uniform", uniform), ("choice", choice))
    ]


def _number_json_schema(
    *,
    ge: float | None,
    gt: float | None,
    le: float | None,
    lt: float | None,
    unit: str,
    jitter: bool,
) -> dict[str, Any]:
    """The JSON Schema of :func:`Number` (for editors; the validator stays the authority)."""
    number: dict[str, Any] = {"type": "number"}
    for key, bound in (("minimum", ge), ("exclusiveMinimum", gt), ("maximum", le), ("exclusiveMaximum", lt)):
        if bound is not None:
            number[key] = bound
    text = _bounds_text(ge, gt, le, lt, unit)
    if not jitter:
        return {**number, "description": text}
    return {"anyOf": [number, *_jitter_json_schemas(number)], "description": f"{text}, or a range of them"}


# ------------------------------------------------------------------------------------------------
# Names
# ------------------------------------------------------------------------------------------------
def name_validator(
    what: str,
    known: Sequence[str] | Callable[[], Sequence[str]] | None = None,
    *,
    jitter: bool = True,
) -> Callable[[Any], str | Choice]:
    """A validator for a name (``known`` names only, when given), or a choice of such names."""

    def check(x: object) -> str:
        if not isinstance(x, str) or not x.strip():
            raise value_error(x, f"a {what} (a non-empty string)")
        names = known() if callable(known) else known
        if names is not None and x not in names:
            raise unknown_name_error(what, x, names)
        return x

    def validate(value: Any) -> str | Choice:
        if isinstance(value, Choice):
            return value
        if isinstance(value, dict) and jitter:
            if list(value) != ["choice"] or not isinstance(value["choice"], list) or not value["choice"]:
                raise value_error(value, f"a {what}, or {{choice: [...]}} with a non-empty list of them")
            return Choice(tuple(check(a) for a in value["choice"]))
        return check(value)

    return validate


def Name(  # noqa: N802
    what: str,
    known: Sequence[str] | Callable[[], Sequence[str]] | None = None,
    *,
    jitter: bool = True,
) -> Any:
    """Annotated type of a (jitterable) name: ``direction: Name("side", ("left", "right"))``."""
    name: dict[str, Any] = {"type": "string", "minLength": 1}
    if known is not None and not callable(known):
        name = {"type": "string", "enum": list(known)}
    schema = {"anyOf": [name, _jitter_json_schemas(name)[1]]} if jitter else dict(name)
    return Annotated[
        str | Choice,
        PlainValidator(name_validator(what, known, jitter=jitter)),
        PlainSerializer(_serialize),
        WithJsonSchema({**schema, "description": f"a {what}" + (", or a choice of them" if jitter else "")}),
    ]


def options(value: object) -> tuple[Any, ...]:
    """Every value a parameter can take for validation: the choices of a Choice, the ends of a
    Uniform, or the value itself."""
    if isinstance(value, Choice):
        return value.options
    if isinstance(value, Uniform):
        return (value.lo, value.hi)
    return (value,)


def nominal(value: object) -> Any:
    """A representative value: the middle of a Uniform, the first option of a Choice."""
    if isinstance(value, Uniform):
        return 0.5 * (value.lo + value.hi)
    if isinstance(value, Choice):
        return value.options[0]
    return value
