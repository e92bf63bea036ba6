import io

from scanner import progress as progress_module
from scanner.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_drawn_when_stderr_is_not_a_terminal():
    stream = io.StringIO()
    bar = Progress(stream)
    bar.start(100)
    bar.advance(50)
    bar.close()
    assert stream.getvalue() == ""


def test_a_long_scan_on_a_terminal_draws_a_bar_and_erases_it(monkeypatch):
    monkeypatch.setattr(progress_module, "DELAY", 0.0)
    monkeypatch.setattr(progress_module, "INTERVAL", 0.0)
    stream = Terminal()
    bar = Progress(stream)
    bar.start(4000)
    bar.advance(2000)
    assert "50%" in stream.getvalue()
    assert "2,000 objects" in stream.getvalue()
    bar.close()
    assert stream.getvalue().endswith("\r\x1b[K")
