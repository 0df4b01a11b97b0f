"""The documented real-broker path, as a new user (and CI's real-broker job) runs it.

`python -m broker` with basic auth plays "your broker"; the commands are the real-broker job's
own, read from the workflow. A fault in one framework only, on a fresh broker (the pact is
pending) and after main verified the pact (no longer pending): every cell of that framework
has the same result each time, and the real can-i-deploy says no; a healthy run says yes.
Heavy (three whole matrices in a clone): it runs in the `reliability` session.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from broker.testing import start_broker
from matrix import ALL_CELLS, FRAMEWORKS
from tests.ci.test_workflow import real_broker_commands, workflow
from tests.reliability.test_concurrent_runs import clone_of_this_checkout, full_only

BROKEN = FRAMEWORKS[-1]
# Appended to the broken framework's adapter: every `GET /users/{id}` finds no user.
FAULT = """

from states import InMemoryUserRepository as _Repository


class _NoUserIsFound(_Repository):
    def get(self, user_id):  # type: ignore[no-untyped-def]
        return None


_healthy_create_app = create_app


def create_app(store=None, **options):  # type: ignore[no-untyped-def]
    return _healthy_create_app(store if store is not None else _NoUserIsFound(), **options)
"""


def run_commands(checkout: Path, env: dict[str, str], commands: list[str]) -> tuple[int, str]:
    output = ""
    for command in commands:
        completed = subprocess.run(
            ["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True,
            timeout=1800, check=False,
        )  # fmt: skip
        output += completed.stdout + completed.stderr
        # The broker's password travels in the environment only, never into a log.
        assert env["PACT_BROKER_PASSWORD"] not in output
        if completed.returncode != 0:
            return completed.returncode, output
    return 0, output


def cell_rows(output: str) -> dict[str, str]:
    return dict(re.findall(r"^\| (verify-\S+) \| (\w+) \|", output, flags=re.MULTILINE))


@full_only
def test_the_real_broker_path_with_a_fault_in_one_framework(tmp_path: Path) -> None:
    job_env = workflow()["jobs"]["real-broker"]["env"]
    auth = {
        "PACT_BROKER_BASIC_AUTH_USERNAME": job_env["PACT_BROKER_USERNAME"],
        "PACT_BROKER_BASIC_AUTH_PASSWORD": job_env["PACT_BROKER_PASSWORD"],
    }
    running = start_broker(tmp_path / "your_broker.sqlite", env=auth)
    checkout = clone_of_this_checkout(tmp_path / "checkout")
    adapter = checkout / "providers" / f"{BROKEN}.py"
    healthy = adapter.read_text("utf-8")
    env = {
        # A new user's shell: no run of the nox that runs this test is inherited.
        **{k: v for k, v in os.environ.items() if not k.startswith(("PACT_", "NOX_"))},
        **job_env,
        "PACT_BROKER_BASE_URL": running.url,
    }
    # The selectors' path; the job ends with the same matrix on the pact by its URL (BY_URL).
    *commands, by_url = real_broker_commands()
    try:
        # 1. A fresh broker, a fault in one framework: the pact is pending, so the cells do
        # not fail the build, but the verdict is a failure and can-i-deploy says no.
        adapter.write_text(healthy + FAULT, encoding="utf-8")
        exit_code, output = run_commands(checkout, env, commands)
        assert exit_code == 0, output[-5000:]
        assert "Verdict: NOT verified, and published." in output, output[-5000:]
        assert "`pact broker can-i-deploy` says no." in output, output[-3000:]
        assert set(cell_rows(output)) == set(ALL_CELLS), output[-3000:]

        # 2. Healthy, on main: verified, can-i-deploy says yes; then the same on the pact by
        # its URL, as a build the broker's webhook started verifies it.
        adapter.write_text(healthy, encoding="utf-8")
        exit_code, output = run_commands(checkout, env, commands)
        assert exit_code == 0, output[-5000:]
        assert "Verdict: verified, and published." in output, output[-3000:]
        assert "`pact broker can-i-deploy` says yes." in output, output[-3000:]
        exit_code, output = run_commands(checkout, env, [by_url])
        assert exit_code == 0, output[-5000:]
        pact = f"{running.url}/pacts/provider/UserProvider/consumer/UserConsumer/latest"
        assert f"the pact at PACT_URL {pact}, and no other" in output, output[-3000:]
        assert "Verdict: verified, and published." in output, output[-3000:]

        # 3. The fault again, now that main verified the pact: every cell of that framework
        # fails (the same in each), the others pass, and can-i-deploy says no.
        adapter.write_text(healthy + FAULT, encoding="utf-8")
        exit_code, output = run_commands(checkout, env, commands)
        assert exit_code != 0, output[-5000:]
        rows = cell_rows(output)
        # (every cell of the broken framework failed: the same result in each)
        assert rows == {
            cell: "failed" if f"({BROKEN}-" in cell else "passed" for cell in ALL_CELLS
        }, output[-3000:]
        assert "Verdict: NOT verified, and published." in output, output[-3000:]
        assert "`pact broker can-i-deploy` says no." in output, output[-3000:]
    finally:
        assert running.stop() == 0
