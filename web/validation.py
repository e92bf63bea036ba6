"""Reading a JSON body safely and checking it against its one description in web.inputs.

The body is bounded before it is trusted: size (Flask's MAX_CONTENT_LENGTH), nesting depth
(measured before parsing), text that no database can store (NUL, lone surrogates); then
the first schema error becomes a 422 naming the field.  The services still check what
they are given.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import datetime
from functools import cache

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError as SchemaError

from keystore.errors import KeywardError, ValidationError
from keystore.json_bounds import nesting_problem, text_problem
from web.schemas import SCHEMAS

MAX_DEPTH = 32


class BadRequest(KeywardError):
    status = 400
    error = "bad_request"


def parse_json(raw: bytes):
    """Bytes to a JSON value, or a 400 saying what is wrong with them."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8", reason="malformed_json") from None
    # Before json.loads, which recurses: a deep body is a 400, never a RecursionError.
    if nesting_problem(raw, MAX_DEPTH) == "too_deep":
        raise BadRequest(f"the body is nested deeper than {MAX_DEPTH} levels", reason="too_deep")
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_number)
    except ValueError:  # JSONDecodeError, NaN/Infinity, a number of thousands of digits
        raise BadRequest("the body is not valid JSON", reason="malformed_json") from None
    check_text(value)
    return value


def check_text(value) -> None:
    """Walk the value without recursion: every key and string must be storable text."""
    stack = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                _check_string(key, (*path, key))
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, i)) for i, child in enumerate(item))
        elif isinstance(item, str):
            _check_string(item, path)


def validate_body(data, schema_name: str) -> None:
    """Check ``data`` against the named schema; the first error becomes a 422."""
    flat = _flat_check(schema_name)
    if flat is not None and flat(data):
        return
    errors = sorted(_validator(schema_name).iter_errors(data), key=_error_order)
    if errors:
        raise _to_validation_error(errors[0])


def field_name(path) -> str | None:
    return ".".join(str(part) for part in path) or None


def _check_string(value: str, path) -> None:
    if text_problem(value) is not None:
        raise ValidationError(
            "text must not contain NUL characters or lone surrogates",
            field=field_name(path),
            reason="bad_text",
        )


def _number(text: str) -> float | int:
    # JSON has one number type: 3.0 is the integer 3 to a JSON Schema, so to us too.
    value = float(text)
    return int(value) if value.is_integer() and abs(value) <= 2**53 else value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


# --- the schema check ------------------------------------------------------------------

_formats = FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


@_formats.checks("ip-address", raises=ValueError)
def _ip_address(value) -> bool:
    return not isinstance(value, str) or bool(ipaddress.ip_address(value))


@_formats.checks("ip-network", raises=ValueError)
def _ip_network(value) -> bool:
    return not isinstance(value, str) or bool(ipaddress.ip_network(value, strict=False))


def _pattern(validator, pattern: str, instance, schema):
    # JSON Schema's patterns are ECMA regexes: "$" is the very end, not "before a newline".
    if isinstance(instance, str) and not _compiled(pattern).search(instance):
        yield SchemaError(f"{instance!r} does not match {pattern!r}")


@cache
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


_Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})


@cache
def _validator(schema_name: str):
    schema = {**SCHEMAS[schema_name], "$defs": {}, "components": {"schemas": SCHEMAS}}
    return _Validator(schema, format_checker=_formats)


_LEAF_KEYWORDS = frozenset({"type", "minLength", "maxLength", "pattern", "format"})


@cache
def _flat_check(schema_name: str):
    """For an object of text fields (``/v1/verify``'s body, most of all): a check built once
    from the same schema that only says "certainly valid", in a few microseconds.

    Anything else it cannot vouch for goes to the full validator, which also words the
    error; a schema using any other keyword gets no flat check at all.
    """
    schema = SCHEMAS[schema_name]
    if set(schema) - {"type", "required", "properties", "additionalProperties"} or (
        schema.get("type"),
        schema.get("additionalProperties"),
    ) != ("object", False):
        return None
    fields = {}
    for name, leaf in schema.get("properties", {}).items():
        kinds = leaf.get("type")
        kinds = set(kinds) if isinstance(kinds, list) else {kinds}
        if set(leaf) - _LEAF_KEYWORDS or "string" not in kinds or kinds - {"string", "null"}:
            return None
        if leaf.get("format") not in (None, *_formats.checkers):
            return None
        pattern = _compiled(leaf["pattern"]) if "pattern" in leaf else None
        limits = (leaf.get("minLength", 0), leaf.get("maxLength", float("inf")))
        fields[name] = ("null" in kinds, limits, pattern, leaf.get("format"))
    required = tuple(schema.get("required", ()))

    def check(data: dict) -> bool:
        if not all(name in data for name in required):
            return False
        return all(_leaf_fits(fields.get(key), value) for key, value in data.items())

    return check


def _leaf_fits(field, value) -> bool:
    if field is None:
        return False  # an unknown field
    nullable, (low, high), pattern, form = field
    if value is None:
        return nullable
    return (
        isinstance(value, str)
        and low <= len(value) <= high
        and (pattern is None or pattern.search(value) is not None)
        and (form is None or _formats.conforms(value, form))
    )


def _error_order(error: SchemaError):
    # The shallowest field first; at one depth, a value sent wrong before a field left out.
    missing = error.validator in ("required", "dependentRequired")
    return (len(error.absolute_path) + missing, missing, str(list(error.absolute_path)))


_REASONS = {
    "required": "missing_field",
    "additionalProperties": "unknown_field",
    "dependentRequired": "missing_field",
    "type": "wrong_type",
    "maxLength": "too_long",
    "minLength": "too_short",
    "maxItems": "too_many",
    "minItems": "too_few",
    "pattern": "bad_format",
    "format": "bad_format",
    "enum": "not_allowed",
    "minimum": "out_of_range",
    "maximum": "out_of_range",
}


def _to_validation_error(error: SchemaError) -> ValidationError:
    path = list(error.absolute_path)
    field = _named_field(error, path)
    return ValidationError(
        f"{field or 'body'}: {_describe(error)}",
        field=field,
        reason=_REASONS.get(error.validator, "invalid"),
    )


def _named_field(error: SchemaError, path: list) -> str | None:
    """The field to blame: for required/unknown fields, the one named, not its parent."""
    if error.validator == "required":
        missing = next(f for f in error.validator_value if f not in error.instance)
        return field_name([*path, missing])
    if error.validator == "additionalProperties":
        allowed = error.schema.get("properties", {})
        unknown = sorted(str(k) for k in error.instance if k not in allowed)
        return field_name([*path, unknown[0]])
    if error.validator == "dependentRequired":
        for needer, needs in error.validator_value.items():
            missing = [f for f in needs if needer in error.instance and f not in error.instance]
            if missing:
                return field_name([*path, missing[0]])
    return field_name(path)


def _describe(error: SchemaError) -> str:
    describe = _DESCRIPTIONS.get(error.validator)
    return describe(error.validator_value) if describe else "is not valid"


_DESCRIPTIONS = {
    "required": lambda _: "is required",
    "dependentRequired": lambda _: "is required with the fields that depend on it",
    "additionalProperties": lambda _: "unknown field",
    "type": lambda kinds: f"must be {_types(kinds)}",
    "maxLength": lambda n: f"must be at most {n} characters",
    "minLength": lambda n: f"must be at least {n} characters",
    "maxItems": lambda n: f"must have at most {n} items",
    "minItems": lambda n: f"must have at least {n} items",
    "pattern": lambda _: "has characters or a shape that is not allowed",
    "format": lambda name: f"must be {_FORMAT_NAMES.get(name, name)}",
    "enum": lambda values: f"must be one of {', '.join(json.dumps(v) for v in values)}",
    "minimum": lambda n: f"must be at least {n}",
    "maximum": lambda n: f"must be at most {n}",
    "anyOf": lambda _: "has a value of no allowed kind",
}


_FORMAT_NAMES = {
    "date-time": "an ISO 8601 date-time with a time zone",
    "ip-network": "an IP address or CIDR range",
    "ip-address": "an IP address",
}


def _types(value) -> str:
    kinds = [value] if isinstance(value, str) else list(value)
    words = {"integer": "a whole number", "null": "null", "object": "an object"}
    return " or ".join(words.get(k, f"a {k}" if k != "array" else "a list") for k in kinds)
