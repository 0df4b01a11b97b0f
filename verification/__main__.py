"""Command line for the steps around verification: `python -m verification <command>`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from matrix import FRAMEWORKS
from verification.results import CellResult, load_results, results_dir

if TYPE_CHECKING:
    from verification import verdict
    from verification.broker_api import BrokerEndpoint


class CommandError(Exception):
    """The command cannot do its job for a reason the user can fix (exit status 2)."""


def publish(args: argparse.Namespace) -> int:
    # Imported here: publishing needs httpx and the pact CLI, which compare and report
    # (CI's final job) do not install.
    from verification import pact_cli
    from verification.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
        if settings.broker is None:
            raise SettingsError("set PACT_BROKER_BASE_URL to the broker to publish to")
        print(
            pact_cli.publish(
                settings.broker,
                args.pact_dir or settings.pact_dir,
                consumer_version=settings.consumer_version,
                branch=settings.consumer_branch,
            )
        )
    except (SettingsError, pact_cli.PactCliError) as error:
        raise CommandError(str(error)) from error
    return 0


def _results(directory: Path, *, required: bool) -> list[CellResult]:
    try:
        results = load_results(directory)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CommandError(f"cannot read the results in {directory}: {error!r}") from error
    if required and not results:
        raise CommandError(
            f"no result files (*.json) in {directory}: nothing to compare; run the verify cells "
            "first, or name the directory their results are in"
        )
    return results


def publish_verdict(args: argparse.Namespace) -> int:
    # Imported here, like publish: it needs httpx and the pact CLI.
    from matrix import ALL_CELLS, PROVIDER
    from verification import pact_cli, verdict
    from verification.broker_api import masked
    from verification.run import VerdictSummary
    from verification.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
        judged = verdict.judge(
            _results(args.results_dir, required=True), ALL_CELLS, whole=args.whole
        )
    except (SettingsError, verdict.VerdictError) as error:
        raise CommandError(str(error)) from error
    print("\n".join(judged.lines()))
    pact_lines = tuple(pact.line() for pact in judged.pacts)
    if settings.pact_url:
        asked = f"the pact at PACT_URL {masked(settings.pact_url)}, and no other"
        pact_lines = tuple(f"{line}; {asked}" for line in pact_lines)
    summary = VerdictSummary(success=judged.success, pacts=pact_lines, missing=judged.missing)
    if settings.broker is None:
        summary = replace(summary, not_published="no broker is named (PACT_BROKER_BASE_URL)")
    elif not settings.publish_results:
        summary = replace(summary, not_published="PACT_PUBLISH_VERIFICATION_RESULTS is not true")
    elif not judged.pacts:
        summary = replace(summary, not_published="the cells verified no pact")
    else:
        endpoint = settings.broker
        if settings.embedded:
            judged = verdict.rebased(judged, endpoint.url)
        summary = replace(summary, pacts=_with_diff_links(endpoint, judged, summary.pacts))
        try:
            created = verdict.publish(endpoint, judged, build_url=settings.build_url)
            summary = replace(summary, published=True)
            print(f"Published {len(created)} verification result(s) to {endpoint.url}.")
            deployable, answer = pact_cli.can_i_deploy(
                endpoint, PROVIDER, settings.provider_version
            )
            summary = replace(summary, can_i_deploy=deployable)
            print(
                f"`pact broker can-i-deploy --pacticipant {PROVIDER} --version "
                f"{settings.provider_version}` says {'yes' if deployable else 'no'}:\n{answer}"
            )
        except verdict.VerdictError as error:
            summary = replace(summary, not_published=str(error))
        except pact_cli.PactCliError as error:
            print(f"can-i-deploy could not be asked: {error}", file=sys.stderr)
    if args.summary:
        summary.write(args.summary)
    print("\n".join(summary.lines()))
    if not summary.published and summary.not_published not in _PUBLISHING_OFF:
        return 1
    return 0 if judged.success or judged.only_pending_failed else 1


def _with_diff_links(
    endpoint: BrokerEndpoint, judged: verdict.Verdict, lines: tuple[str, ...]
) -> tuple[str, ...]:
    """Each pact's line, naming what changed since its consumer's previous distinct pact (the
    broker's `pb:diff-previous-distinct`), so that a reader of a failed verdict sees why."""
    from verification.broker_api import BrokerError, diff_link

    shown = []
    for line, pact in zip(lines, judged.pacts, strict=True):
        try:
            link = diff_link(endpoint, pact.pact.url)
        except BrokerError as error:
            print(f"the pact's diff could not be asked: {error}", file=sys.stderr)
            link = None
        shown.append(f"{line}; changed since its previous version: {link}" if link else line)
    return tuple(shown)


# Reasons for not publishing that the user chose: the verdict itself decides the exit status.
_PUBLISHING_OFF = (
    "no broker is named (PACT_BROKER_BASE_URL)",
    "PACT_PUBLISH_VERIFICATION_RESULTS is not true",
)


def verify_cell(args: argparse.Namespace) -> int:
    """One matrix cell in one process: the framework's provider verified against the pacts
    the broker selects, its result written for the verdict (`PACT_RESULTS_DIR`)."""
    import importlib
    import tempfile

    from verification import pact_cli
    from verification.cell import Cell, run
    from verification.embedded import broker_for
    from verification.junit import write_junit
    from verification.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise CommandError(str(error)) from error
    # The framework first: importing it is part of any cell's floor, not of its verification.
    importlib.import_module(f"providers.{args.framework}")
    try:
        with (
            tempfile.TemporaryDirectory() as workdir,
            broker_for(settings, Path(workdir)) as broker,
            _stdout_discarded(),
        ):
            result = run(Cell(args.framework), settings, broker)
    except pact_cli.PactCliError as error:  # the pacts could not reach the cell's own broker
        raise CommandError(str(error)) from error
    result.write(settings.results_dir)
    write_junit(result, settings.results_dir)  # one testcase per interaction, for CI to show
    if result.error is not None:
        problem = result.error
    elif not result.verified:
        problem = "verified zero interactions"
    elif not result.success:
        problem = f"{len(result.failed)} interaction(s) failed"
    else:
        print(f"{result.cell}: {result.verified} interactions verified in {result.seconds:.1f} s")
        return 0
    print(f"{result.cell}: {problem}\n\n{result.report}", file=sys.stderr)
    return 1


@contextlib.contextmanager
def _stdout_discarded() -> Iterator[None]:
    """The Rust verifier prints its report to the process's stdout as it goes: the cell keeps
    it in its result instead, and prints it when the cell failed."""
    sys.stdout.flush()
    kept = os.dup(1)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(kept, 1)
        os.close(kept)


def watch_code(args: argparse.Namespace) -> int:
    from verification.watch import watch

    return watch(args.framework, args.path)


def check_settings(args: argparse.Namespace) -> int:
    from matrix import PROVIDER
    from verification.broker_api import masked
    from verification.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise CommandError(str(error)) from error
    if settings.pact_url:
        pacts = f"the pact at PACT_URL {masked(settings.pact_url)}"
    else:
        pacts = f"the pacts that {list(settings.selectors)} select"
    broker = "no broker" if settings.broker is None else masked(settings.broker.url)
    if settings.embedded:
        broker = f"the run's embedded broker ({broker})"
    print(
        f"verifying {pacts} on {broker}, as {PROVIDER} {settings.provider_version} "
        f"({settings.provider_branch or 'no branch'})"
    )
    return 0


def create_webhook(args: argparse.Namespace) -> int:

    from matrix import PROVIDER
    from verification import webhook
    from verification.broker_api import BrokerError
    from verification.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
        if settings.broker is None or settings.embedded:
            raise SettingsError("set PACT_BROKER_BASE_URL (and its credentials) to your broker")
        token = os.environ.get("GITHUB_TOKEN")
        if not token:
            raise SettingsError(
                "set GITHUB_TOKEN to a token that may send this repository a repository_dispatch "
                "(a fine-grained token with Contents: read and write)"
            )
        url = webhook.create_or_update(
            settings.broker, PROVIDER, args.repository, token, args.github_api or webhook.GITHUB_API
        )
    except (SettingsError, ValueError, BrokerError) as error:
        raise CommandError(str(error)) from error
    print(
        f"webhook {url}: for each of {PROVIDER}'s pacts that needs verifying, the broker starts "
        f"the workflow of {args.repository} (repository_dispatch "
        "contract_requiring_verification_published)"
    )
    return 0


def compare_cells(args: argparse.Namespace) -> int:
    from verification.compare import compare

    comparison = compare(_results(args.results_dir, required=True))
    print("\n".join(comparison.lines()))
    return 0 if comparison.ok else 1


def render_report(args: argparse.Namespace) -> int:
    # Imported here: Jinja2 is needed by this command only.
    from verification import report

    nox_files = args.nox_report
    if nox_files is None:
        nox_files = sorted((args.results / report.NOX_REPORTS).glob("*.json"))
    try:
        nox_records = report.load_nox_reports(nox_files)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CommandError(f"cannot read the nox reports: {error!r}") from error
    # The run's own records of its cells first; nox's reports (CI writes them), where given.
    nox_records = report.cell_records(args.results) | nox_records
    matrix = report.build(
        _results(args.results, required=False), nox_records, facts=report.run_facts(args.results)
    )
    text = report.markdown(matrix)
    if args.markdown:
        print(f"wrote {report.write(args.markdown, text)}")
    else:
        print(text)
    if args.html:
        print(f"wrote {report.write(args.html, report.html_page(matrix))}")
    return 0


def _results_dir_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "results_dir",
        nargs="?",
        type=Path,
        default=results_dir(),
        help="the cells' result files (default: PACT_RESULTS_DIR or results/)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verification", description=__doc__)
    commands = parser.add_subparsers(required=True)

    publish_command = commands.add_parser(
        "publish",
        help="publish the consumer's pacts to PACT_BROKER_BASE_URL as version = git commit",
    )
    publish_command.add_argument("pact_dir", nargs="?", type=Path, help="default: pacts/")
    publish_command.set_defaults(run=publish)

    verdict_command = commands.add_parser(
        "verdict",
        help="judge every cell's result together and publish one verdict per pact",
    )
    _results_dir_argument(verdict_command)
    verdict_command.add_argument(
        "--summary", type=Path, metavar="FILE", help="also write the verdict here, as JSON"
    )
    verdict_command.add_argument(
        "--whole",
        action="store_true",
        help="the run attempted every cell of the matrix: a cell with no result failed "
        "(without it, a run that lacks a cell's result is part of the matrix: no verdict)",
    )
    verdict_command.set_defaults(run=publish_verdict)

    cell_command = commands.add_parser(
        "cell",
        help="verify one framework (the installed release) on this Python against the pacts "
        "the broker selects, and write its result; exit 1 when it failed",
    )
    cell_command.add_argument("framework", choices=FRAMEWORKS)
    cell_command.set_defaults(run=verify_cell)

    watch_command = commands.add_parser(
        "watch",
        help="verify one framework as `cell` does, then again after every change of the "
        "checkout's code, until Ctrl-C (`nox -s watch -- FRAMEWORK`)",
    )
    watch_command.add_argument("framework", choices=FRAMEWORKS)
    watch_command.add_argument(
        "--path",
        type=Path,
        action="append",
        default=[],
        help="watch this folder instead (repeatable; default: the folders of the checkout's "
        "code the cell runs)",
    )
    watch_command.set_defaults(run=watch_code)

    settings_command = commands.add_parser(
        "settings",
        help="say what the cells would verify, where and as which version, or what is wrong "
        "with the PACT_* variables (exit 2)",
    )
    settings_command.set_defaults(run=check_settings)

    webhook_command = commands.add_parser(
        "webhook",
        help="create (or update) the broker's webhook that starts a GitHub repository's "
        "workflow for each pact that needs verifying (token: GITHUB_TOKEN)",
    )
    webhook_command.add_argument("repository", metavar="OWNER/REPO")
    webhook_command.add_argument(
        "--github-api", metavar="URL", help="GitHub Enterprise's API (default: GitHub's)"
    )
    webhook_command.set_defaults(run=create_webhook)

    compare_command = commands.add_parser(
        "compare",
        help="fail (exit 1) when cells that verified the same pacts disagree on an interaction",
    )
    _results_dir_argument(compare_command)
    compare_command.set_defaults(run=compare_cells)

    report_command = commands.add_parser(
        "report", help="the matrix as a Markdown table (stdout or --markdown) and an HTML page"
    )
    report_command.add_argument(
        "--results",
        type=Path,
        default=results_dir(),
        help="the cells' result files (default: PACT_RESULTS_DIR or results/)",
    )
    report_command.add_argument(
        "--nox-report",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="`nox --report` files (default: every *.json in RESULTS/nox/)",
    )
    report_command.add_argument("--markdown", type=Path, metavar="OUT", help="write it here")
    report_command.add_argument("--html", type=Path, metavar="OUT", help="write the HTML page")
    report_command.set_defaults(run=render_report)

    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what the command started has been stopped on the way
        print("interrupted", file=sys.stderr)
        return 130


def exit_now(code: int) -> NoReturn:
    """End the process once everything the command wrote is written and closed. Tearing the
    interpreter down (every module a framework, pydantic and the verifier loaded) took ~35 ms,
    paid by each cell of every run: the process ends without it."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
