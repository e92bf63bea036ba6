"""Reading a partner alert's body once its signature is verified: bounded, record by record.

The body is GitHub's (or GitLab's): a JSON array of ``{"token", "type", "url",
"source"}``.  Its size is bounded by the web door; its nesting is bounded here
*before* ``json.loads`` (:mod:`keystore.json_bounds`), so a deep body is a 400, not
a ``RecursionError``.  Then every record is judged on its own: one bad record is
counted and skipped, never a reason to lose the others.  A record is accepted
only if everything the database or an encoder could refuse later (NUL bytes,
lone surrogates, absurd lengths, wrong types) has been ruled out, so nothing
after the commit can fail on it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass

from keystore.errors import KeywardError, ValidationError
from keystore.json_bounds import nesting_problem, text_problem
from keystore.tokens import github_token_hash
from rotation.intake import Report
from rotation.metrics import SKIPPED_RECORDS

log = logging.getLogger("keyward.rotation")

# An alert is an array of flat objects (depth 2); anything deeper than this is not an alert.
MAX_DEPTH = 8
MAX_TOKEN_CHARS = 512
# Longer values are cut, as stored: a long URL is no reason to drop a leaked token.
FIELD_LIMITS = {"type": 100, "url": 4000, "source": 100}


class AlertBodyError(KeywardError):
    """The verified body is not JSON we can read (or is nested too deep): a 400."""

    status = 400
    error = "bad_request"


@dataclass(frozen=True)
class Alert:
    """The valid records of a batch, and how many were skipped."""

    reports: list[Report]
    skipped: int


def parse_alert(raw: bytes, *, origin: str) -> Alert:
    """Valid records of a verified body; invalid ones are counted and skipped.

    Raises a 400 for a body that is not JSON or nested too deep, and a 422 when
    it is not a non-empty array or holds no valid record (nothing is stored then).
    """
    records = _load(raw)
    if not isinstance(records, list) or not records:
        raise ValidationError(
            "the body must be a non-empty JSON array of records", reason="malformed_alert"
        )
    reports, problems = [], Counter()
    first_bad = None
    for index, record in enumerate(records):
        judged = read_record(record)
        if isinstance(judged, Report):
            reports.append(judged)
            continue
        problems[judged] += 1
        first_bad = first_bad if first_bad is not None else (index, judged)
    _count_skipped(origin, problems)
    if not reports:
        index, reason = first_bad
        raise ValidationError(
            f"no record of the alert is valid (record {index}: {reason.replace('_', ' ')})",
            reason="malformed_alert",
            field=f"[{index}]",
        )
    return Alert(reports=reports, skipped=sum(problems.values()))


def _load(raw: bytes):
    problem = nesting_problem(raw, MAX_DEPTH)
    if problem == "too_deep":
        raise AlertBodyError(f"the body is nested deeper than {MAX_DEPTH} levels", reason=problem)
    try:
        if problem is not None:
            raise ValueError(problem)
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise AlertBodyError("the body is not JSON", reason="malformed_json") from None


def read_record(record) -> Report | str:
    """A :class:`Report`, or the reason (a short code, never the token) it is skipped."""
    if not isinstance(record, dict):
        return "not_an_object"
    token = record.get("token")
    if not isinstance(token, str) or not token:
        return "no_token"
    problem = text_problem(token, MAX_TOKEN_CHARS)
    if problem:
        return f"token_{problem}"
    fields = {}
    for name, limit in FIELD_LIMITS.items():
        value = record.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            return f"{name}_not_text"
        problem = text_problem(value, None)
        if problem:
            return f"{name}_{problem}"
        fields[name] = value[:limit]
    # Sources are compared case-insensitively and unknown ones are kept as sent.
    return Report(
        token=token, token_type=fields["type"], url=fields["url"], source=fields["source"].lower()
    )


def _count_skipped(origin: str, problems: Counter) -> None:
    if not problems:
        return
    for reason, count in problems.items():
        SKIPPED_RECORDS.labels(origin, reason).inc(count)
    # One line per batch, with reasons only: a skipped record's token is never logged.
    log.warning(
        "%s alert: %d record(s) skipped (%s)",
        origin,
        sum(problems.values()),
        ", ".join(f"{reason}: {count}" for reason, count in sorted(problems.items())),
    )


def feedback(reports: list[Report], owned: list[bool]) -> list[dict]:
    """The partner's feedback for the valid records, in their order."""
    return [
        {
            "token_hash": github_token_hash(report.token),
            "token_type": report.token_type,
            "label": "true_positive" if mine else "false_positive",
        }
        for report, mine in zip(reports, owned, strict=True)
    ]
