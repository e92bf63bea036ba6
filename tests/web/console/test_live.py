"""Browser tests never pass silently: without Chromium they skip here and fail under CI."""

import pytest

from tests.web.console.live import require_chromium


def test_a_missing_chromium_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI requires it"):
        require_chromium("/nonexistent/chromium")


def test_a_missing_chromium_skips_elsewhere(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_chromium("/nonexistent/chromium")
