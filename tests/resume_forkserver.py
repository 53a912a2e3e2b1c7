"""Run the real command many times, fast: a fork server for the crash matrix.

Starting Python and importing emailclean costs most of a second on a busy
machine; the crash matrix runs the command hundreds of times. A fork server
is a child process that imports `emailclean.cli` once and then, per request,
forks a fresh process that enters the same `main()` the `emailclean` script
does, with its own argv, environment, working folder and stdio files. Each
run is still its own process, so `os._exit` at a fault point kills that run
only, exactly as it would kill `python -m emailclean`. The fault switches
are read again in each run (the faults module reads them at import).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import CliResult
from tests.resume_helpers import child_env

_SERVER = r"""
import importlib, json, os, sys, traceback
import emailclean.cli
from emailclean.io import faults

def serve(request):
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, name, flags in ((0, request["stdin"], os.O_RDONLY),
                            (1, request["stdout"], os.O_WRONLY | os.O_CREAT),
                            (2, request["stderr"], os.O_WRONLY | os.O_CREAT)):
        opened = os.open(name, flags, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    importlib.reload(faults)
    sys.argv = ["emailclean", *request["args"]]
    try:
        emailclean.cli.main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (stop.code is not None)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

def warm_up():
    # Typer and Rich import much lazily on a command's first parse; do it
    # once here rather than in every forked run.
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    for args in (["validate", "--help"], ["resume", "--help"]):
        sys.argv = ["emailclean", *args]
        try:
            emailclean.cli.main()
        except SystemExit:
            pass
    sys.stdout.flush()
    os.dup2(saved, 1)
    os.close(null)
    os.close(saved)

warm_up()
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        serve(request)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class ForkServer:
    """One server process; `run` is not thread-safe (use one per thread)."""

    def __init__(self, scratch: Path) -> None:
        self._scratch = scratch
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
            text=True,
        )

    def run(
        self,
        *args: str,
        cwd: Path,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> CliResult:
        """Run `emailclean ARGS...` in a fresh forked process and wait; stdin
        is empty unless given (as with `tests.helpers.run_cli`)."""
        assert self._process.stdin is not None and self._process.stdout is not None
        out, err = self._scratch / "stdout", self._scratch / "stderr"
        given = self._scratch / "stdin"
        given.write_bytes(stdin or b"")
        request = {
            "args": list(args),
            "cwd": str(cwd),
            "env": child_env(env),
            "stdin": str(given),
            "stdout": str(out),
            "stderr": str(err),
        }
        out.write_bytes(b"")
        err.write_bytes(b"")
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        reply = json.loads(self._process.stdout.readline())
        return CliResult(
            reply["rc"], out.read_bytes(), err.read_text("utf-8", "replace")
        )

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()
