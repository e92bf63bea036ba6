"""The token format is specified in the project: nothing cites a file outside it."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("keystore", "scanner", "rotation", "web", "migrations", "docs", "bench", "tests")


def test_the_token_format_specification_is_ours():
    assert (ROOT / "docs" / "token-format.md").is_file()
    files = [ROOT / "README.md"] + [
        path
        for top in SOURCES
        for path in (ROOT / top).rglob("*")
        if path.suffix in {".py", ".md", ".html", ".toml"} and path != Path(__file__).resolve()
    ]
    citing = [str(p.relative_to(ROOT)) for p in files if "shared/token-format" in p.read_text()]
    assert citing == []
