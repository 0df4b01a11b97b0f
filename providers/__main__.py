"""Serve one framework's provider, with its provider-state endpoint, until Ctrl-C.

    python -m providers flask [--port N]        # or: nox -s provider -- flask [--port N]

It listens on 127.0.0.1 only (the state endpoint answers loopback clients only anyway), on a
free port unless --port says which. The state endpoint needs the secret PACT_STATE_SECRET
names, else one made for this run. The banner says where everything is and how each verifier
this project is tested with is pointed at it: that is how a person runs any other verifier,
or debugs one interaction with curl.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import secrets
import shlex
import signal
import sys
import threading
from types import FrameType

import providers
from matrix import CONSUMER, FRAMEWORKS, PROVIDER
from providers.api import STATE_PATH, STATE_SECRET_HEADER
from providers.runner import serve
from states import PROVIDER_STATES, InMemoryUserRepository

SECRET_VARIABLE = "PACT_STATE_SECRET"
# The verifiers' commands read the secret from this variable, so that it appears on no
# command line (where `ps` would show it) and in no shell history.
SECRET_REFERENCE = f"${SECRET_VARIABLE}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m providers", description=__doc__.split("\n")[0])
    parser.add_argument("framework", choices=FRAMEWORKS)
    parser.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    arguments = parser.parse_args(argv)
    if not 0 <= arguments.port <= 65535:
        parser.error(f"--port must be from 0 to 65535, not {arguments.port}")
    given = os.environ.get(SECRET_VARIABLE)
    secret = given or secrets.token_urlsafe(32)
    secret_source = f"from {SECRET_VARIABLE}" if given else "made for this run"
    app = providers.create_app(
        arguments.framework, InMemoryUserRepository(), provider_states=True, state_secret=secret
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # SIGTERM too, so that a supervisor (or a test) stops it as cleanly as Ctrl-C does.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with contextlib.ExitStack() as serving:
        try:
            server = serving.enter_context(serve(app, host="127.0.0.1", port=arguments.port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            print(
                f"error: port {arguments.port} on 127.0.0.1 is already in use: stop what uses it,"
                " or choose another with --port (or leave it out for a free one)",
                file=sys.stderr,
            )
            return 2
        print(banner(arguments.framework, server.url, secret, secret_source), flush=True)
        while not stop.wait(0.5):
            failure = server.failure()
            if failure is not None:
                print(failure, file=sys.stderr)
                return 1
    print("Stopped.", flush=True)
    return 0


def banner(framework: str, base_url: str, secret: str, secret_source: str) -> str:
    state_url = f"{base_url}{STATE_PATH}"
    pact = f"pacts/{CONSUMER}-{PROVIDER}.json"
    # The Ruby verifier reads V3 pacts only: the consumer tests write one on request.
    pact_v3 = f"pacts-v3/{CONSUMER}-{PROVIDER}.json"
    quoted = shlex.quote
    lines = [
        f"{PROVIDER} on {framework}, until Ctrl-C",
        f"  base URL:          {base_url}",
        f"  state-change URL:  {state_url}",
        f"  state secret:      {secret}  ({secret_source})",
        f"  secret header:     {STATE_SECRET_HEADER}: <the secret>",
        f"  provider states:   {', '.join(json.dumps(name) for name in PROVIDER_STATES)}",
        f"  the pact:          {pact} (`nox -s pacts` writes it)",
        "",
        "Every verifier's command reads the secret from the environment; first:",
        f"  export {SECRET_VARIABLE}={quoted(secret)}",
        "",
        "pact-python 4 (Python):",
        f"  Verifier({PROVIDER!r}, host='127.0.0.1').add_transport(url={base_url!r})"
        f".add_source({pact!r}).state_handler({state_url!r}, body=True, teardown=True)"
        f".add_custom_header({STATE_SECRET_HEADER!r}, os.environ[{SECRET_VARIABLE!r}])"
        ".verify()",
        "pact_verifier_cli (Rust; pact-python-cli==2.5.7.0; it takes headers only as arguments):",
        f"  pact_verifier_cli --file {pact} --provider-name {PROVIDER} --hostname 127.0.0.1"
        f" --port {base_url.rsplit(':', 1)[1]} --state-change-url {state_url}"
        f' --state-change-teardown -H "{STATE_SECRET_HEADER}={SECRET_REFERENCE}"',
        "pact-provider-verifier (Ruby; pact-python-cli==2.5.7.0; V3 pacts only, written by"
        " `PACT_SPECIFICATION=V3 PACT_DIR=pacts-v3 nox -s pacts`):",
        f'  CUSTOM_PROVIDER_HEADER="{STATE_SECRET_HEADER}: {SECRET_REFERENCE}"'
        f" pact-provider-verifier {pact_v3} --provider {PROVIDER} --provider-base-url {base_url}"
        f" --provider-states-setup-url {state_url}",
        "pact-js (Node; verifiers/pact-js, after `npm ci` there):",
        f"  node verifiers/pact-js/verify.mjs --provider-base-url {base_url} --pact {pact}"
        f" --state-url {state_url}",
        "Any one interaction, by hand:",
        f"  curl -X POST {state_url} -H 'Content-Type: application/json'"
        f' -H "{STATE_SECRET_HEADER}: {SECRET_REFERENCE}"'
        """ -d '{"action": "setup", "state": "user 123 exists", "params": {}}'""",
        f"  curl {base_url}/users/123",
        "Rerun one interaction: PACT_DESCRIPTION='<its description>' before any verifier above.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
