"""The git commit and branch that name consumer and provider versions by default."""

from __future__ import annotations

import hashlib
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
    """The commit checked out in `cwd`, with `+dirty.<digest of the change>` when the work tree
    differs from it.

    A dirty tree is not the commit: publishing its pacts or results under the bare commit
    would attach untested content to a version that never contained it. The digest names the
    change itself (tracked edits and untracked files), so every edit is a version of its own:
    its pacts never conflict with those of an earlier edit (a 409), and undoing an edit
    comes back to the version it had.
    """
    sha = _git("rev-parse", "HEAD", cwd=cwd)
    if sha is None:
        return None
    change = _change_digest(cwd)
    return f"{sha}+dirty.{change}" if change else sha


def _change_digest(cwd: Path) -> str | None:
    """A short digest of how the work tree differs from HEAD, or None when it does not."""
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--binary"], cwd=cwd, capture_output=True, check=False, timeout=30
    ).stdout
    untracked = _git("ls-files", "--others", "--exclude-standard", "-z", cwd=cwd) or ""
    if not diff and not untracked:
        return None
    digest = hashlib.sha256(diff)
    for name in sorted(filter(None, untracked.split("\0"))):
        path = cwd / name
        digest.update(name.encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def branch(cwd: Path, environ: Mapping[str, str] = os.environ) -> str | None:
    """The checked-out branch, or the branch a CI system names for a detached checkout."""
    name = _git("rev-parse", "--abbrev-ref", "HEAD", cwd=cwd)
    if name and name != "HEAD":
        return name
    return next((environ[var] for var in CI_BRANCH_VARIABLES if environ.get(var)), None)
