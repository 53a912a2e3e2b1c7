"""emailclean's errors, grouped by who has to act.

    EmailcleanError                 root; the CLI catches only this
    ├── UsageError                  the user's options contradict (exit 2)
    ├── InputError                  the input cannot be read as a whole (exit 1)
    ├── OutputError                 the output cannot be written (exit 1)
    ├── CheckpointError             job state refuses a start or resume (exit 4)
    └── ProbeError                  a network check failed; never reaches the
        ├── DnsError                CLI: the layers turn it into an `unknown`
        └── SmtpProbeError          verdict

Each carries an `exit_code`; messages say what failed, where, and what to try.
"""

from __future__ import annotations


class EmailcleanError(Exception):
    """Root of every error emailclean raises on purpose."""

    exit_code = 1


class UsageError(EmailcleanError):
    """Options or arguments that cannot work together."""

    exit_code = 2


class InputError(EmailcleanError):
    """The input file cannot be read as a whole."""

    exit_code = 1

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")


class OutputError(EmailcleanError):
    """The output cannot be written (disk full, permissions, I/O error)."""

    exit_code = 1


class CheckpointError(EmailcleanError):
    """Job state refuses to start or resume a job."""

    exit_code = 4


class ProbeError(EmailcleanError):
    """A DNS or SMTP check could not be completed."""


class DnsError(ProbeError):
    """A DNS query failed in a way that says nothing about the domain."""


class SmtpProbeError(ProbeError):
    """An SMTP exchange failed; carries the reply and the MX host."""

    def __init__(
        self,
        message: str,
        *,
        mx: str | None = None,
        code: int | None = None,
        enhanced: str | None = None,
    ) -> None:
        self.mx = mx
        self.code = code
        self.enhanced = enhanced
        super().__init__(message)
