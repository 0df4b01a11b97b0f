"""The GitHub Actions workflow, checked here because GitHub cannot run in this suite.

It must be a valid workflow, pass the Actions security linter, and run one job for each
`verify` session that nox lists: its matrix step is run here exactly as CI would run it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from broker import webhooks
from matrix import ALL_CELLS, LEFT_OUT, PROJECT_ROOT, PYTHONS
from verification import run
from verification.settings import Settings

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "verify.yml"
CANARY = PROJECT_ROOT / ".github" / "workflows" / "canary.yml"
WORKFLOWS = sorted(WORKFLOW.parent.glob("*.yml"))
# check-jsonschema, zizmor and nox are in the test dependency group, beside this Python.
TOOLS = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")
# An insecure workflow: zizmor must find it, or a clean verdict on ours would mean nothing.
INSECURE_WORKFLOW = """\
name: insecure
on: pull_request_target
jobs:
  greet:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
"""


def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text("utf-8"))
    return data


def steps(job: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workflow()["jobs"][job]["steps"]
    return found


def run_tool(*args: str | Path, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOLS / str(args[0])), *map(str, args[1:])],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def zizmor_findings(path: Path) -> list[dict[str, Any]]:
    # --offline: no GitHub API, so no token and no network; the audits that need it are off.
    completed = run_tool("zizmor", "--offline", "--format=json", path)
    assert completed.stdout, completed.stderr
    findings: list[dict[str, Any]] = json.loads(completed.stdout)
    return findings


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_the_workflows_match_githubs_workflow_schema(path: Path) -> None:
    completed = run_tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", path)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_schema_check_rejects_an_invalid_workflow(tmp_path: Path) -> None:
    invalid = tmp_path / "invalid.yml"
    invalid.write_text("on: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    completed = run_tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", invalid)
    assert completed.returncode != 0, completed.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_zizmor_finds_nothing_of_medium_or_high_severity(path: Path) -> None:
    findings = zizmor_findings(path)
    serious = [f for f in findings if f["determinations"]["severity"] in {"Medium", "High"}]
    assert serious == [], json.dumps(serious, indent=2)


def test_zizmor_finds_the_flaws_of_an_insecure_workflow(tmp_path: Path) -> None:
    insecure = tmp_path / ".github" / "workflows" / "insecure.yml"
    insecure.parent.mkdir(parents=True)
    insecure.write_text(INSECURE_WORKFLOW)
    found = {finding["ident"] for finding in zizmor_findings(insecure)}
    flaws = {"template-injection", "unpinned-uses", "artipacked", "excessive-permissions"}
    assert flaws <= found, found


def test_every_action_is_pinned_by_commit_with_its_version_named() -> None:
    text = WORKFLOW.read_text("utf-8")
    uses = re.findall(r"uses:\s*(\S+)(.*)", text)
    assert uses
    for action, comment in uses:
        assert PINNED.match(action), f"{action} is not pinned by a full commit SHA"
        assert re.search(r"#\s*v\d+", comment), f"{action} does not name its version"


def test_checkouts_do_not_keep_the_token_and_jobs_only_read() -> None:
    data = workflow()
    assert data["permissions"] == {}
    for name, job in data["jobs"].items():
        assert job["permissions"] == {"contents": "read"}, name
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_no_expression_is_expanded_inside_a_shell_script() -> None:
    for name, job in workflow()["jobs"].items():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), f"{name}: {step.get('name')}"


def test_the_matrix_step_lists_exactly_the_verify_sessions_of_nox(tmp_path: Path) -> None:
    """Run the workflow's matrix step as CI would, and hold it against `nox -l --json`."""
    step = next(s for s in steps("cells") if s.get("id") == "matrix")
    output = tmp_path / "github_output"
    output.touch()
    environment = {
        **os.environ,
        "GITHUB_OUTPUT": str(output),
        # The step finds nox and python on PATH, as after the workflow's install step.
        "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}",
    }
    subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=PROJECT_ROOT,
        env=environment,
        check=True,
        timeout=120,
    )
    first, *rest = output.read_text("utf-8").strip().splitlines()
    name, _, value = first.partition("=")
    assert name == "matrix"
    matrix = json.loads(value)["include"]
    # The Pythons, one a line, for the real-broker job's setup-python.
    assert rest == ["pythons<<END_OF_PYTHONS", *PYTHONS, "END_OF_PYTHONS"]

    listed = run_tool("nox", "--list", "--json", "--tags", "verify")
    assert listed.returncode == 0, listed.stderr
    sessions = json.loads(listed.stdout)
    # Every verify session, less the combinations a series' Requires-Python leaves out (nox
    # lists them, and skips them saying why): that is the matrix the project declares.
    assert LEFT_OUT, "pyproject.toml declares a series some Python cannot run (Django 6.1)"
    assert {s["session"] for s in sessions} >= set(LEFT_OUT)
    assert matrix == [
        {"session": s["session"], "python": s["python"]}
        for s in sessions
        if s["session"] not in LEFT_OUT
    ]
    assert [cell["session"] for cell in matrix] == list(ALL_CELLS)
    assert {cell["python"] for cell in matrix} == set(PYTHONS)


def test_each_cell_job_runs_its_own_session_on_its_own_python() -> None:
    job = workflow()["jobs"]["verify"]
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.cells.outputs.matrix) }}"
    assert job["strategy"]["fail-fast"] is False
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    verify = next(s for s in job["steps"] if s.get("name") == "Verify")
    assert verify["env"]["CELL"] == "${{ matrix.session }}"
    assert 'nox --session "$CELL" --report "results/nox/$CELL.json"' in verify["run"]


WRITE_SECRETS = [
    f"${{{{ secrets.PACT_BROKER_{name} }}}}" for name in ("USERNAME", "PASSWORD", "TOKEN")
]
HEAD_COMMIT = "${{ github.event.pull_request.head.sha || github.sha }}"
# The commit verified: the webhook's, else the pull request's head, else the pushed one.
PROVIDER_COMMIT = (
    "${{ github.event.client_payload.sha || github.event.pull_request.head.sha || github.sha }}"
)


def test_cells_read_the_broker_and_publish_nothing() -> None:
    verify = next(s for s in steps("verify") if s.get("name") == "Verify")
    assert verify["env"]["PACT_BROKER_BASE_URL"] == "${{ secrets.PACT_BROKER_BASE_URL }}"
    for name in ("USERNAME", "PASSWORD", "TOKEN"):
        assert verify["env"][f"PACT_BROKER_{name}"] == f"${{{{ secrets.PACT_BROKER_READ_{name} }}}}"
    assert "PACT_PUBLISH_VERIFICATION_RESULTS" not in verify["env"]
    assert workflow()["env"]["CI"] == "true"


def test_only_the_verdict_step_has_the_brokers_write_credentials() -> None:
    holders = [
        (job_name, step.get("name"))
        for job_name, job in workflow()["jobs"].items()
        for step in job["steps"]
        if any(secret in json.dumps(step) for secret in WRITE_SECRETS)
    ]
    assert holders == [("report", "Publish the verdict")]
    verdict = next(s for s in steps("report") if s.get("name") == "Publish the verdict")
    assert verdict["run"] == "nox --session verdict -- --whole"
    assert verdict["env"]["PACT_PUBLISH_VERIFICATION_RESULTS"] == "true"
    assert not any(secret in json.dumps(workflow()["env"]) for secret in WRITE_SECRETS)


def test_the_jobs_share_one_run_and_name_the_pull_requests_head_commit_and_branch() -> None:
    env = workflow()["env"]
    assert env["PACT_MATRIX_RUN"] == "${{ github.run_id }}-${{ github.run_attempt }}"
    assert env["PACT_CONSUMER_VERSION"] == HEAD_COMMIT
    assert env["PACT_CONSUMER_BRANCH"] == "${{ github.head_ref || github.ref_name }}"
    assert env["PACT_PROVIDER_VERSION"] == PROVIDER_COMMIT
    assert env["PACT_PROVIDER_BRANCH"] == (
        "${{ github.event.client_payload.branch || github.head_ref || github.ref_name }}"
    )
    for name in ("verify", "report", "real-broker"):
        checkout = next(s for s in steps(name) if "actions/checkout@" in s.get("uses", ""))
        assert checkout["with"]["ref"] == PROVIDER_COMMIT, name


def evaluate(expression: str, context: dict[str, Any]) -> str:
    """One of this workflow's `${{ a.b || c.d }}` expressions as GitHub evaluates it over
    `context` (a missing or empty value is false; the first true one is the value)."""
    inner = re.fullmatch(r"\$\{\{\s*(.+?)\s*\}\}", expression)
    if inner is None:
        return expression  # a literal
    text = inner.group(1)
    if negated := re.fullmatch(r"!\((.+)\)", text):
        return "" if evaluate(f"${{{{ {negated.group(1)} }}}}", context) else "true"
    for name in text.split("||"):
        value: Any = context
        for part in name.strip().split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value:
            return str(value)
    return ""


def the_brokers_dispatch(pact_url: str, sha: str, branch: str) -> dict[str, Any]:
    """The body the embedded broker's GitHub webhook template (README) sends, filled in."""
    values = {
        "pactbroker.pactUrl": pact_url,
        "pactbroker.providerVersionNumber": sha,
        "pactbroker.providerVersionBranch": branch,
    }
    body: dict[str, Any] = json.loads(
        webhooks.TEMPLATE.sub(lambda m: values[m.group(1)], webhooks.GITHUB_DISPATCH_BODY)
    )
    return body


PACT = "https://broker.example/pacts/provider/UserProvider/consumer/UserConsumer/version/c2"
PUSHED = {"sha": "pushed", "ref_name": "main", "head_ref": "", "event": {}}
EVENTS = {
    "push": (PUSHED, None, "pushed", "main"),
    "pull_request": (
        {**PUSHED, "ref_name": "7/merge", "head_ref": "feature",
         "event": {"pull_request": {"head": {"sha": "head"}}}},
        None, "head", "feature",
    ),
    "repository_dispatch": (
        {**PUSHED, "event": {"action": "contract_requiring_verification_published",
                             "client_payload": the_brokers_dispatch(PACT, "abc123", "release")
                             ["client_payload"]}},
        PACT, "abc123", "release",
    ),
    "workflow_dispatch": (PUSHED, PACT, "pushed", "main"),
}  # fmt: skip


def test_the_workflow_is_started_by_the_brokers_webhook_or_by_hand_with_a_pact_url() -> None:
    raw: dict[object, Any] = yaml.safe_load(WORKFLOW.read_text("utf-8"))
    triggers = raw[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["repository_dispatch"] == {
        "types": ["contract_requiring_verification_published"]
    }
    assert triggers["workflow_dispatch"]["inputs"]["pact_url"]["type"] == "string"
    dispatch = the_brokers_dispatch(PACT, "abc123", "release")
    assert dispatch["event_type"] == "contract_requiring_verification_published"


@pytest.mark.parametrize("event", EVENTS)
def test_each_trigger_verifies_the_pact_and_commit_it_names(event: str) -> None:
    """The workflow's variables, evaluated for each trigger, are what the cells and the verdict
    read (Settings, the code the tests run): PACT_URL and the provider commit and branch."""
    github, pact_url, version, branch = EVENTS[event]
    inputs = {"pact_url": PACT} if event == "workflow_dispatch" else {}
    context = {"github": github, "inputs": inputs}
    env = {name: evaluate(value, context) for name, value in workflow()["env"].items()
           if name != "PACT_MATRIX_RUN"}  # fmt: skip
    settings = Settings.from_env({**env, "PACT_BROKER_BASE_URL": ""})
    assert settings.pact_url == pact_url
    assert (settings.provider_version, settings.provider_branch) == (version, branch)
    for name in ("verify", "report"):
        checkout = next(s for s in steps(name) if "actions/checkout@" in s.get("uses", ""))
        assert evaluate(checkout["with"]["ref"], context) == version
    # A webhook's run is the matrix and its verdict alone: nothing else is decided by it.
    for name in ("verifiers", "real-broker", "pages"):
        runs = bool(evaluate(workflow()["jobs"][name]["if"], context))
        assert runs == (pact_url is None), name


def test_the_real_broker_job_runs_the_whole_matrix_against_the_real_image() -> None:
    job = workflow()["jobs"]["real-broker"]
    (service,) = job["services"].values()
    assert service["image"].startswith("pactfoundation/pact-broker:")
    assert service["env"]["PACT_BROKER_DATABASE_URL"].startswith("sqlite:")
    assert job["env"]["PACT_BROKER_BASE_URL"] == "http://localhost:9292"
    # Its `nox --session verify` names a run of its own, and so judges it after its cells.
    assert run.judges_itself(parallel=False, environ=job["env"])
    assert job["env"]["PACT_PUBLISH_VERIFICATION_RESULTS"] == "true"
    setup = next(s for s in job["steps"] if "actions/setup-python@" in s.get("uses", ""))
    assert setup["with"]["python-version"] == "${{ needs.cells.outputs.pythons }}"
    # The commands tests/reliability/test_real_broker_path.py runs against the embedded broker.
    assert real_broker_commands() == [
        "nox --session pacts", "nox --session publish", "nox --session verify", BY_URL,
    ]  # fmt: skip


# The real-broker job's last command: the matrix on the consumer's pact by its URL.
BY_URL = (
    'PACT_URL="$PACT_BROKER_BASE_URL/pacts/provider/UserProvider/consumer/UserConsumer/latest" '
    "nox --session verify"
)


def real_broker_commands() -> list[str]:
    """The real-broker job's commands after nox is installed: what the reliability test runs."""
    runs = [step["run"] for step in steps("real-broker") if "run" in step]
    return [run for run in runs if run.startswith("nox ") or " nox --session " in run]


def test_the_final_job_reports_every_cell_even_when_cells_failed() -> None:
    job = workflow()["jobs"]["report"]
    assert job["needs"] == ["cells", "verify"]
    assert job["if"] == "${{ !cancelled() }}"
    runs = [step.get("run", "") for step in job["steps"]]
    assert "nox --session report" in runs
    assert runs.index("nox --session verdict -- --whole") < runs.index("nox --session report")
    assert any('>> "$GITHUB_STEP_SUMMARY"' in run for run in runs)
    download = next(s for s in job["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"] == {"pattern": "cell-*", "path": "results", "merge-multiple": True}
    uploads = [s for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
    assert any("results/report.html" in s["with"]["path"] for s in uploads)


def test_each_cell_uploads_its_results_junit_and_nox_report() -> None:
    upload = next(s for s in steps("verify") if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "${{ !cancelled() }}"
    assert upload["with"]["name"] == "cell-${{ matrix.session }}"
    # The whole folder: <cell>.json, <cell>.junit.xml and nox/<cell>.json.
    assert upload["with"]["path"] == "results/"


def test_the_pages_job_renders_them_in_a_browser_and_keeps_the_screenshots() -> None:
    runs = [step.get("run", "") for step in steps("pages")]
    [render] = [run for run in runs if run.startswith("nox ")]
    assert render.split(" -- ")[0] == "nox --session tests"
    for test in (
        "tests/broker/test_pages_in_chromium.py",
        "tests/reporting/test_html_in_chromium.py",
    ):
        assert test in render.split()
        assert (PROJECT_ROOT / test).exists()
    upload = next(s for s in steps("pages") if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "results/screenshots/"
    assert upload["if"] == "${{ !cancelled() }}"


def test_the_verifiers_job_runs_every_verifier_on_every_framework() -> None:
    runs = [step.get("run", "") for step in steps("verifiers")]
    assert "nox --session verifiers" in runs


def test_the_canary_runs_every_day_and_keeps_its_report() -> None:
    canary: dict[object, Any] = yaml.safe_load(CANARY.read_text("utf-8"))
    assert "schedule" in canary[True]  # YAML 1.1 reads the key `on` as true
    [job] = canary["jobs"].values()
    runs = [step.get("run", "") for step in job["steps"]]
    assert "nox --session canary" in runs
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "results/canary.md"
    assert "secrets." not in CANARY.read_text("utf-8")  # it publishes nothing, anywhere


@pytest.mark.parametrize(
    "session", ["report", "verdict", "pacts", "publish", "verifiers", "canary"]
)
def test_the_sessions_the_workflow_runs_exist(session: str) -> None:
    listed = run_tool("nox", "--list", "--json", "--session", session)
    assert listed.returncode == 0, listed.stderr
    assert [s["session"] for s in json.loads(listed.stdout)] == [session]
