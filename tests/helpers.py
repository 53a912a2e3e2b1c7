"""Run the real `emailclean` command in a child process, as a user would.

The child is `python -m emailclean` with this checkout first on the import
path, so it tests the tree under test whichever environment installed it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import emailclean

REPO_ROOT = Path(emailclean.__file__).resolve().parent.parent
ALL_STATUSES = "valid,risky,invalid,unknown"


@dataclass(frozen=True)
class CliResult:
    """What one run of the command left behind."""

    rc: int
    stdout: bytes
    stderr: str

    def jsonl(self) -> list[dict[str, object]]:
        """stdout parsed as JSON Lines."""
        return [json.loads(line) for line in self.stdout.splitlines()]


def run_cli(
    *args: str,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> CliResult:
    """Run `emailclean ARGS...` and wait for it; stdin is empty unless given."""
    completed = subprocess.run(
        cli_command(*args),
        input=stdin if stdin is not None else b"",
        capture_output=True,
        cwd=cwd,
        env=cli_env(env),
        timeout=timeout,
        check=False,
    )
    return CliResult(
        completed.returncode,
        completed.stdout,
        completed.stderr.decode("utf-8", "replace"),
    )


def cli_command(*args: str) -> list[str]:
    """The command line that runs this checkout's `emailclean ARGS...`."""
    return [sys.executable, "-m", "emailclean", *args]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child: ours without EMAILCLEAN_* or a terminal size."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("EMAILCLEAN_") and key not in ("COLUMNS", "LINES")
    }
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
    )
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env
