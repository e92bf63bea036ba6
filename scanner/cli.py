"""``keyward scan``: find Keyward tokens in a file, a tree, a git history or a remote.

Exit codes: 0 clean, 1 tokens found (after the baseline), 2 error (one line on
stderr, never a traceback).  Runs as ``python -m scanner`` too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from click.core import ParameterSource

from keystore.cli.base import JSON_META, Command, fail
from keystore.errors import KeywardError
from scanner.baseline import load_baseline, new_findings, write_baseline
from scanner.collect import Outcome, Request, collect
from scanner.config import PathFilter, ScanConfig, check_globs, discover, load_explicit
from scanner.errors import ScanError
from scanner.gitleaks import render_gitleaks
from scanner.remote import is_url
from scanner.report import render_json, render_text, summary_line
from scanner.sarif import render_sarif
from scanner.state import save_state

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2
RENDERERS = {
    "text": lambda findings, outcome: render_text(findings),
    "json": lambda findings, outcome: render_json(findings, stats=outcome.stats),
    "sarif": lambda findings, outcome: render_sarif(
        findings, root=outcome.root, repo_path=outcome.repo_path
    ),
    "gitleaks": lambda findings, outcome: render_gitleaks(
        findings, root=outcome.root, repo_path=outcome.repo_path
    ),
}
FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("scan", cls=Command)
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
    help="Report format: human text, JSON, SARIF 2.1.0 for code scanning, or gitleaks' JSON.",
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
@click.option(
    "--config",
    "config_file",
    type=FILE,
    help="Settings file (.keyward.toml or a pyproject.toml) instead of looking for one.",
)
@click.option("--no-config", is_flag=True, help="Ignore .keyward.toml and [tool.keyward].")
@click.option(
    "--skip-path",
    "skip_paths",
    multiple=True,
    metavar="GLOB",
    help="Do not report findings in paths matching GLOB (repeatable; replaces the config's).",
)
@click.option(
    "--inline-allow/--no-inline-allow",
    default=True,
    help="Honour a keyward:allow comment on a token's line (default: yes).",
)
@click.option("--quiet", "-q", is_flag=True, help="No summary line on stderr.")
@click.option(
    "--archive-depth",
    type=click.IntRange(min=1, max=64),
    default=8,
    show_default=True,
    help="How deep archives inside archives are opened.",
)
@click.option(
    "--archive-max-bytes",
    type=click.IntRange(min=1),
    default=4 << 30,
    show_default=True,
    help="Stop (an error) after reading this many bytes out of archives.",
)
@click.option(
    "--archive-max-ratio",
    type=click.IntRange(min=2),
    default=250,
    show_default=True,
    help="Stop (an error) at a member that inflates more than this many times.",
)
@click.pass_context
def scan(click_ctx: click.Context, **options) -> None:
    """Find Keyward tokens in TARGET: a file, '-' for stdin, a directory, a repository or a URL."""
    as_json = bool(click_ctx.meta.get(JSON_META))
    if as_json and click_ctx.get_parameter_source("output_format") is ParameterSource.DEFAULT:
        options["output_format"] = "json"  # --json: the report too, unless --format says otherwise
    try:
        code = run(Request.from_options(options), options)
    except KeywardError as error:
        fail(
            error.message, error=error.error, reason=error.reason, code=EXIT_ERROR, as_json=as_json
        )
    except KeyboardInterrupt:
        fail(
            "interrupted",
            error="interrupted",
            reason="interrupted",
            code=EXIT_ERROR,
            as_json=as_json,
        )
    except Exception as error:
        # A bug must still end in one line: the type only, since a message could quote input.
        message = f"internal error: {type(error).__name__}"
        fail(message, error="internal", reason="internal", code=EXIT_ERROR, as_json=as_json)
    sys.exit(code)


def run(request: Request, options: dict) -> int:
    """Collect, filter by paths and the baseline, report, save the state; return the exit code."""
    started = time.monotonic()
    check_globs(list(options["skip_paths"]), source="--skip-path")
    config = load_config(request, options)
    request = request.configured(config)
    outcome = collect(request)
    findings = skip_paths(outcome, request.skip_paths)
    baseline_file = options["baseline_file"] or config.baseline
    # A configured baseline not yet written is empty; one named on the command line must exist.
    if baseline_file is not None and (baseline_file.exists() or options["baseline_file"]):
        known = load_baseline(baseline_file)
        kept = new_findings(findings, known)
        outcome.stats["baselined"] = len(findings) - len(kept)
        findings = kept
    if options["write_baseline"] is not None:
        write_baseline(options["write_baseline"], outcome.findings)
    report = RENDERERS[options["output_format"]](findings, outcome)
    emit(report, output=options["output"])
    if outcome.state is not None and request.state_file is not None:
        save_state(request.state_file, outcome.state)
    if not options["quiet"]:
        click.echo(summary_line(outcome.stats, len(findings), time.monotonic() - started), err=True)
    if options["write_baseline"] is not None or not findings:
        return EXIT_CLEAN
    return EXIT_FOUND


def load_config(request: Request, options: dict) -> ScanConfig:
    """``--config FILE``, else the files found from the target upwards (cwd for stdin, URLs)."""
    if options["no_config"]:
        return ScanConfig()
    if options["config_file"] is not None:
        return load_explicit(options["config_file"])
    target = request.target
    if target == "-" or is_url(target):
        return discover(Path.cwd())
    path = Path(target)
    return discover(path if path.is_dir() else path.parent)


def skip_paths(outcome: Outcome, patterns: tuple[str, ...]) -> list:
    """The findings whose repository-relative path no skip glob matches; counts the rest."""
    matcher = PathFilter(tuple(patterns))
    if not matcher:
        return outcome.findings
    kept = [f for f in outcome.findings if not matcher.skips(outcome.repo_path(f.path))]
    # Added to the files a tree scan already passed over unread.
    skipped = outcome.stats.get("skipped_by_path", 0) + len(outcome.findings) - len(kept)
    outcome.stats["skipped_by_path"] = skipped
    return kept


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
