"""A job's settings: what the user asked for, checked and with defaults filled.

`JobConfig` is the one object the CLI and the API build; the pipeline reads
nothing else. `result_options()` lists the settings that change results,
which a checkpoint must match before a job may resume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from emailclean.errors import UsageError
from emailclean.io.writers import FORMATS
from emailclean.models import Check, Flag, Status

_Name = TypeVar("_Name", Status, Flag, Check)

DEFAULT_KEEP = frozenset({Status.VALID, Status.RISKY, Status.UNKNOWN})
ALL_CHECKS = frozenset(Check)
DEFAULT_CONCURRENCY = 1000
DEFAULT_PER_HOST = 2
DEFAULT_MAX_CONNECTIONS = 20
DEFAULT_TIMEOUT = 10.0
DEFAULT_GREYLIST_WAIT = 600.0
DEFAULT_SMTP_PORT = 25

_KINDS = {".csv": "csv", ".tsv": "tsv", ".txt": "txt"}
_FORMAT_BY_EXTENSION = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".txt": "txt",
}


@dataclass(frozen=True)
class JobConfig:
    """Everything one `validate` job needs to know."""

    input: str
    output: str = "-"
    output_format: str | None = None
    column: str | None = None
    keep: frozenset[Status] = DEFAULT_KEEP
    drop_flagged: frozenset[Flag] = frozenset()
    split_dir: str | None = None
    checks: frozenset[Check] = ALL_CHECKS
    dedupe: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    per_host: int = DEFAULT_PER_HOST
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    timeout: float = DEFAULT_TIMEOUT
    greylist_wait: float = DEFAULT_GREYLIST_WAIT
    nameservers: tuple[str, ...] = ()
    smtp_port: int = DEFAULT_SMTP_PORT
    helo: str | None = None
    mail_from: str | None = None
    allow_private_mx: bool = False
    excel_safe: bool = False
    encoding: str = "utf-8"
    checkpoint: str | None = None
    use_checkpoint: bool = True
    restart: bool = False
    force: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if Check.SMTP in self.checks and Check.DNS not in self.checks:
            raise UsageError("--checks smtp needs dns too (smtp probes the MX hosts)")
        if Check.SYNTAX not in self.checks:
            raise UsageError("--checks must include syntax")
        if self.concurrency < 1 or self.per_host < 1 or self.max_connections < 1:
            raise UsageError(
                "--concurrency, --per-host and --max-connections must be ≥ 1"
            )
        if self.timeout <= 0:
            raise UsageError("--timeout must be a positive number of seconds")
        if self.output_format is not None and self.output_format not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
        self._refuse_output_over_input()

    def _refuse_output_over_input(self) -> None:
        if self.input == "-" or self.output == "-":
            return
        try:
            same = os.path.samefile(self.input, self.output)
        except OSError:
            same = Path(self.input).resolve() == Path(self.output).resolve()
        if same:
            raise UsageError(
                f"the output {self.output} is the input; choose another -o path"
            )

    @property
    def input_kind(self) -> str | None:
        """csv, tsv or txt from the input's extension (.gz ignored), else None."""
        name = self.input.lower().removesuffix(".gz")
        return _KINDS.get(Path(name).suffix)

    def resolved_format(self, sniffed_kind: str) -> str:
        """The output format: --format, else -o's extension, else the input's kind."""
        if self.output_format:
            return self.output_format
        if self.output != "-":
            suffix = Path(self.output.lower().removesuffix(".gz")).suffix
            if suffix in _FORMAT_BY_EXTENSION:
                return _FORMAT_BY_EXTENSION[suffix]
        return "txt" if sniffed_kind == "txt" else "csv"

    def result_options(self) -> dict[str, object]:
        """The settings that change what a job writes (kept in its checkpoint)."""
        return {
            "output_format": self.output_format,
            "column": self.column,
            "keep": sorted(self.keep),
            "drop_flagged": sorted(self.drop_flagged),
            "split_dir": self.split_dir and str(Path(self.split_dir).resolve()),
            "checks": sorted(self.checks),
            "dedupe": self.dedupe,
            "greylist_wait": self.greylist_wait,
            "nameservers": list(self.nameservers),
            "smtp_port": self.smtp_port,
            "helo": self.helo,
            "mail_from": self.mail_from,
            "allow_private_mx": self.allow_private_mx,
            "excel_safe": self.excel_safe,
            "encoding": self.encoding,
        }


def parse_statuses(text: str, option: str = "--keep") -> frozenset[Status]:
    return frozenset(_parse_names(text, Status, option))


def parse_flags(text: str, option: str = "--drop-flagged") -> frozenset[Flag]:
    return frozenset(_parse_names(text, Flag, option))


def parse_checks(text: str) -> frozenset[Check]:
    return frozenset(_parse_names(text, Check, "--checks")) | {Check.SYNTAX}


def _parse_names(text: str, enum: type[_Name], option: str) -> list[_Name]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    known = {member.value: member for member in enum}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(
            f"{option}: unknown name {', '.join(unknown)} "
            f"(choose from {', '.join(known)})"
        )
    return [known[name] for name in names]
