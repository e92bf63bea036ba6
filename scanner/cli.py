"""``keyward scan``: find Keyward tokens in a file, a tree, a git history or a remote.

Exit codes: 0 clean, 1 tokens found (after the baseline), 2 error (one line on
stderr, never a traceback).  Runs as ``python -m scanner`` too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from keystore.errors import KeywardError
from scanner.baseline import load_baseline, new_findings, write_baseline
from scanner.collect import Request, collect
from scanner.errors import ScanError
from scanner.report import render_json, render_text
from scanner.sarif import render_sarif
from scanner.state import save_state

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2
RENDERERS = {
    "text": lambda findings, stats: render_text(findings),
    "json": lambda findings, stats: render_json(findings, stats=stats),
    "sarif": lambda findings, stats: render_sarif(findings),
}
FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("scan")
@click.argument("target", default=".", required=False)
@click.option("--staged", is_flag=True, help="Scan the lines staged for the next commit.")
@click.option("--since", "since_rev", metavar="REV", help="Scan only what HEAD added since REV.")
@click.option(
    "--history/--no-history",
    default=None,
    help="Scan the full git history (default for a repository) or only the files.",
)
@click.option(
    "--state",
    "state_file",
    type=FILE,
    help="Scan only refs new since the state in FILE, then update it.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(RENDERERS)),
    default="text",
    show_default=True,
    help="Report format: human text, JSON, or SARIF 2.1.0 for code scanning.",
)
@click.option("--output", type=FILE, help="Write the report to FILE instead of stdout.")
@click.option(
    "--baseline", "baseline_file", type=FILE, help="Do not report findings listed in FILE."
)
@click.option("--write-baseline", type=FILE, help="Record all findings in FILE and exit 0.")
@click.option(
    "--prefix",
    "prefixes",
    multiple=True,
    envvar="KEYWARD_TOKEN_PREFIX",
    help="Token prefix to look for (repeatable; default kw).",
)
@click.option(
    "--max-file-size",
    type=int,
    default=10 << 20,
    show_default=True,
    help="Bytes; larger files in a tree are skipped.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where remote repositories are mirrored.",
)
@click.option(
    "--include-unreachable", is_flag=True, help="Report tokens in objects no ref reaches."
)
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes for a history scan.")
def scan(**options) -> None:
    """Find Keyward tokens in TARGET: a file, '-' for stdin, a directory, a repository or a URL."""
    try:
        code = run(Request.from_options(options), options)
    except KeywardError as error:
        click.echo(f"keyward scan: error: {error.message} [{error.reason}]", err=True)
        code = EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("keyward scan: interrupted", err=True)
        code = EXIT_ERROR
    except Exception as error:
        # A bug must still end in one line: the type only, since a message could quote input.
        click.echo(f"keyward scan: internal error: {type(error).__name__}", err=True)
        code = EXIT_ERROR
    sys.exit(code)


def run(request: Request, options: dict) -> int:
    """Collect, filter by the baseline, report, save the state; return the exit code."""
    outcome = collect(request)
    findings = outcome.findings
    if options["baseline_file"] is not None:
        known = load_baseline(options["baseline_file"])
        findings = new_findings(findings, known)
        outcome.stats["baselined"] = len(outcome.findings) - len(findings)
    if options["write_baseline"] is not None:
        write_baseline(options["write_baseline"], outcome.findings)
    report = RENDERERS[options["output_format"]](findings, outcome.stats)
    emit(report, output=options["output"])
    if outcome.state is not None and request.state_file is not None:
        save_state(request.state_file, outcome.state)
    if options["write_baseline"] is not None or not findings:
        return EXIT_CLEAN
    return EXIT_FOUND


def emit(report: str, *, output: Path | None) -> None:
    """Write the report to ``output`` or stdout."""
    if output is None:
        click.echo(report, nl=False)
        return
    try:
        output.write_text(report, encoding="utf-8")
    except OSError as error:
        raise ScanError(
            f"cannot write {output}: {error.strerror}", reason="unwritable_path"
        ) from None


def main(args: list[str] | None = None) -> None:
    """Entry point for ``python -m scanner`` and ``keyward scan`` (``args``: after "scan")."""
    scan(args=args, prog_name="keyward scan")
