"""Reading a verified alert body: nesting bounded before parsing, records judged one by one."""

from __future__ import annotations

import json

import pytest

from keystore.errors import ValidationError
from rotation.alert_body import AlertBodyError, parse_alert, read_record


def test_a_deep_body_is_refused_before_json_sees_it():
    with pytest.raises(AlertBodyError) as caught:
        parse_alert(b"[" * 100_000 + b"]" * 100_000, origin="github")
    assert (caught.value.status, caught.value.reason) == (400, "too_deep")


@pytest.mark.parametrize("body", [b"not json", b'[{"token": "x"', b"\xff\xfe[]"])
def test_a_body_that_is_not_json_is_a_400(body):
    with pytest.raises(AlertBodyError) as caught:
        parse_alert(body, origin="github")
    assert caught.value.reason == "malformed_json"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("x", "not_an_object"),
        ({"type": "t"}, "no_token"),
        ({"token": ""}, "no_token"),
        ({"token": 5}, "no_token"),
        ({"token": "t" * 513}, "token_too_long"),
        ({"token": "a\x00"}, "token_nul_byte"),
        ({"token": "a\ud800"}, "token_lone_surrogate"),
        ({"token": "a", "url": 3}, "url_not_text"),
        ({"token": "a", "url": "x\x00"}, "url_nul_byte"),
        ({"token": "a", "type": "\udc00"}, "type_lone_surrogate"),
        ({"token": "a", "source": ["content"]}, "source_not_text"),
    ],
)
def test_each_invalid_record_has_its_reason(record, reason):
    assert read_record(record) == reason


def test_valid_records_are_kept_and_long_values_cut_as_stored():
    report = read_record({"token": "a", "url": "u" * 5000, "source": "Issue_Comment", "type": None})
    assert (len(report.url), report.source, report.token_type) == (4000, "issue_comment", "")


def test_a_batch_keeps_its_valid_records_in_order():
    body = json.dumps([{"token": "a"}, "junk", {"token": "b\x00"}, {"token": "c"}]).encode()
    alert = parse_alert(body, origin="github")
    assert [r.token for r in alert.reports] == ["a", "c"]
    assert alert.skipped == 2


def test_a_batch_with_no_valid_record_is_refused():
    with pytest.raises(ValidationError) as caught:
        parse_alert(json.dumps(["junk", {"token": "\ud800"}]).encode(), origin="github")
    assert (caught.value.status, caught.value.reason, caught.value.field) == (
        422,
        "malformed_alert",
        "[0]",
    )
