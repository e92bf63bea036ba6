"""The web app's real output: one JSON object per line, with the request's id on each."""

import dataclasses
import io
import json
import logging
import re

import pytest

from keystore import structured_logs
from web import create_app

TS = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
TOKEN = "kw_prod_" + "C" * 36


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # any other line fails here
    for record in records:
        assert TS.match(record["ts"]), record
        assert record["level"], record
        assert record["logger"], record
    return records


class Output:
    """What the app's log handler (on the root logger) writes, instead of stderr."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        [self.handler] = [
            h for h in logging.getLogger().handlers if type(h).__name__ == "_OurHandler"
        ]
        self.handler.setStream(self.buffer)

    def read(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


@pytest.fixture
def json_app(db_engine, settings):
    app = create_app(
        dataclasses.replace(settings, database_url=str(db_engine.url), log_format="json")
    )
    app.output = Output()

    @app.get("/v1/boom")
    def boom():
        raise RuntimeError(f"could not handle {TOKEN}")

    yield app
    app.extensions["keyward"].engine.dispose()
    logging.getLogger().removeHandler(app.output.handler)


def test_every_line_of_a_request_is_json_with_its_request_id(json_app):
    client = json_app.test_client()
    json_app.output.read()
    answer = client.get("/v1/boom", headers={"X-Request-Id": "req-1"})
    assert answer.status_code == 500
    client.get("/livez", headers={"X-Request-Id": "req-2"})
    records = json_lines(json_app.output.read())
    [error] = [r for r in records if r["message"] == "unhandled error"]
    assert error["request_id"] == "req-1"
    assert error["level"] == "ERROR"
    assert error["logger"] == "keyward.web"
    assert "RuntimeError" in error["exception"]
    access = {r["request_id"]: r for r in records if r["logger"] == "keyward.access"}
    assert access["req-1"]["status"] == 500
    assert access["req-2"]["status"] == 200
    # Scrubbed, the traceback too.
    assert "C" * 36 not in json.dumps(records)


def test_the_request_id_does_not_outlive_its_request(json_app):
    json_app.test_client().get("/livez", headers={"X-Request-Id": "req-3"})
    json_app.output.read()
    logging.getLogger("keyward.web").warning("after the request")
    [record] = json_lines(json_app.output.read())
    assert "request_id" not in record


def test_library_lines_are_json_too(json_app):
    json_app.output.read()
    logging.getLogger("some.library").warning("hello %s", TOKEN)
    [record] = json_lines(json_app.output.read())
    assert record["logger"] == "some.library"
    assert record["message"] == "hello [REDACTED]"


def test_timestamps_are_utc_with_milliseconds():
    assert structured_logs.utc_timestamp(0.1234) == "1970-01-01T00:00:00.123Z"
