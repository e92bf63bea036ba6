import json

from keystore import tokens
from scanner.findings import make_finding
from tests.scanner.conftest import make_token


def test_the_token_never_appears_in_repr_str_or_the_record():
    token = make_token()
    finding = make_finding(token, kind="file", path="a.py", line=3, column=9)
    assert token not in repr(finding)
    assert token not in str(finding)
    assert token not in json.dumps(finding.to_dict())
    assert finding.token == token  # in memory, for the service's HMAC digest


def test_hint_and_sha256_follow_the_token_format():
    token = make_token()
    finding = make_finding(token, kind="file", path="a.py", line=1, column=1)
    assert finding.hint == tokens.hint_of(token)
    assert finding.sha256 == tokens.github_token_hash(token)


def test_fingerprint_ignores_line_and_commit_but_not_path():
    token = make_token()
    base = make_finding(token, kind="blob", path="a.py", line=1, column=1, commit="1" * 40)
    moved = make_finding(token, kind="blob", path="a.py", line=9, column=4, commit="2" * 40)
    elsewhere = make_finding(token, kind="blob", path="b.py", line=1, column=1)
    other = make_finding(make_token(), kind="blob", path="a.py", line=1, column=1)
    assert base.fingerprint == moved.fingerprint
    assert base.fingerprint != elsewhere.fingerprint
    assert base.fingerprint != other.fingerprint
