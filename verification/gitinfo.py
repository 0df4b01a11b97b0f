"""The git commit and branch that name consumer and provider versions by default."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

# Where CI systems put the branch when the checkout is a detached HEAD.
CI_BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME")


def _git(*args: str, cwd: Path) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None


def commit(cwd: Path) -> str | None:
    """The commit checked out in `cwd`, with `+dirty` when the work tree has uncommitted changes.

    A dirty tree is not the commit: publishing its pacts or results under the bare
    commit would attach untested content to a version that never contained it.
    """
    sha = _git("rev-parse", "HEAD", cwd=cwd)
    if sha is None:
        return None
    dirty = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return f"{sha}+dirty" if dirty else sha


def branch(cwd: Path, environ: Mapping[str, str] = os.environ) -> str | None:
    """The checked-out branch, or the branch a CI system names for a detached checkout."""
    name = _git("rev-parse", "--abbrev-ref", "HEAD", cwd=cwd)
    if name and name != "HEAD":
        return name
    return next((environ[var] for var in CI_BRANCH_VARIABLES if environ.get(var)), None)
