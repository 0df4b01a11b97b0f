"""Command line for the steps around verification: `python -m verification publish`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verification import pact_cli
from verification.settings import Settings, SettingsError


def publish(args: argparse.Namespace) -> int:
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
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verification", description=__doc__)
    commands = parser.add_subparsers(required=True)
    publish_command = commands.add_parser(
        "publish",
        help="publish the consumer's pacts to PACT_BROKER_BASE_URL as version = git commit",
    )
    publish_command.add_argument("pact_dir", nargs="?", type=Path, help="default: pacts/")
    publish_command.set_defaults(run=publish)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (SettingsError, pact_cli.PactCliError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
