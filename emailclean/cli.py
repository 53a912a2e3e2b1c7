"""The `emailclean` command: options, wiring and exit codes, no logic.

Exit codes (DESIGN §8): 0 finished · 1 failure (input unreadable, I/O) ·
2 usage · 3 finished but some checks could not run · 4 start or resume
refused · 130/143 stopped by SIGINT/SIGTERM · 141 output pipe closed.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from emailclean import api
from emailclean.config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_GREYLIST_WAIT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PER_HOST,
    DEFAULT_SMTP_PORT,
    DEFAULT_TIMEOUT,
    JobConfig,
    parse_checks,
    parse_flags,
    parse_statuses,
)
from emailclean.errors import EmailcleanError
from emailclean.models import Status
from emailclean.pipeline import JobSummary
from emailclean.report import make_console, print_card, print_summary, progress_bar

EXIT_DEGRADED = 3
EXIT_PIPE_CLOSED = 141

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Clean email lists on your own machine: syntax, DNS and SMTP checks.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _env(name: str) -> str:
    return f"EMAILCLEAN_{name}"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(api.version_text())
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Show versions of emailclean, email-validator and the list data.",
        ),
    ] = False,
) -> None:
    """Clean email lists on your own machine."""


# Options shared by several commands, declared once.
Checks = Annotated[
    str,
    typer.Option(
        envvar=_env("CHECKS"), help="Layers to run: syntax,dns,smtp (smtp needs dns)."
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        envvar=_env("TIMEOUT"),
        help="Seconds for each network operation (connect, each reply, "
        "each DNS query).",
    ),
]
Nameservers = Annotated[
    list[str] | None,
    typer.Option(
        "--nameserver",
        help="DNS server HOST[:PORT] to ask (repeatable; IPv6 as [::1]:53).",
    ),
]
SmtpPort = Annotated[
    int, typer.Option(envvar=_env("SMTP_PORT"), help="Port for SMTP probes.")
]
Helo = Annotated[
    str | None,
    typer.Option(
        envvar=_env("HELO"),
        help="Name to greet mail servers with (default: this machine's FQDN).",
    ),
]
MailFrom = Annotated[
    str | None,
    typer.Option(
        envvar=_env("MAIL_FROM"),
        help='Sender used in probes (default: verify@ the HELO name; "" for <>).',
    ),
]
AllowPrivateMx = Annotated[
    bool,
    typer.Option(
        "--allow-private-mx",
        envvar=_env("ALLOW_PRIVATE_MX"),
        help="Probe mail hosts at loopback/private addresses.",
    ),
]
ShowProgress = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Progress bar on stderr (default: when stderr is a terminal).",
    ),
]
Quiet = Annotated[bool, typer.Option("-q", "--quiet", help="Only errors on stderr.")]
Verbose = Annotated[
    bool,
    typer.Option("-v", "--verbose", help="Log each deciding rule and lookup problem."),
]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]


@app.command()
def validate(
    input: Annotated[
        str, typer.Argument(help="CSV/TSV/TXT list (optionally .gz), or - for stdin.")
    ],
    output: Annotated[
        str, typer.Option("-o", "--output", help="Output file, or - for stdout.")
    ] = "-",
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            envvar=_env("FORMAT"),
            help="csv, jsonl, json or txt (default: from -o's extension, "
            "else the input's kind).",
        ),
    ] = None,
    column: Annotated[
        str | None,
        typer.Option(
            envvar=_env("COLUMN"),
            help="CSV column holding the address: a header name or a number from 1.",
        ),
    ] = None,
    keep: Annotated[
        str, typer.Option(envvar=_env("KEEP"), help="Statuses to write.")
    ] = "valid,risky,unknown",
    drop_flagged: Annotated[
        str,
        typer.Option(
            envvar=_env("DROP_FLAGGED"),
            help="Also drop rows with any of these flags, e.g. role,disposable.",
        ),
    ] = "",
    split_dir: Annotated[
        str | None,
        typer.Option(
            help="Also write valid/risky/invalid/unknown files into this folder."
        ),
    ] = None,
    checks: Checks = "syntax,dns,smtp",
    dedupe: Annotated[
        bool,
        typer.Option(
            "--dedupe",
            envvar=_env("DEDUPE"),
            help="Flag later duplicates of an address and drop them.",
        ),
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            envvar=_env("CONCURRENCY"), help="Addresses waiting on the network at once."
        ),
    ] = DEFAULT_CONCURRENCY,
    per_host: Annotated[
        int,
        typer.Option(
            envvar=_env("PER_HOST"), help="SMTP connections at once per MX host."
        ),
    ] = DEFAULT_PER_HOST,
    max_connections: Annotated[
        int,
        typer.Option(
            envvar=_env("MAX_CONNECTIONS"), help="SMTP connections at once, in all."
        ),
    ] = DEFAULT_MAX_CONNECTIONS,
    timeout: Timeout = DEFAULT_TIMEOUT,
    greylist_wait: Annotated[
        float,
        typer.Option(
            envvar=_env("GREYLIST_WAIT"),
            help="Seconds a greylisted recipient may be retried in all.",
        ),
    ] = DEFAULT_GREYLIST_WAIT,
    nameserver: Nameservers = None,
    smtp_port: SmtpPort = DEFAULT_SMTP_PORT,
    helo: Helo = None,
    mail_from: MailFrom = None,
    allow_private_mx: AllowPrivateMx = False,
    excel_safe: Annotated[
        bool,
        typer.Option(
            "--excel-safe",
            envvar=_env("EXCEL_SAFE"),
            help="Defuse spreadsheet formulas in every CSV cell.",
        ),
    ] = False,
    encoding: Annotated[
        str,
        typer.Option(
            envvar=_env("ENCODING"), help="Input encoding when it is not UTF-8."
        ),
    ] = "utf-8",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing output.")
    ] = False,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            help="Where job state lives (default OUTPUT.ckpt; needed to "
            "resume a stdin job)."
        ),
    ] = None,
    no_checkpoint: Annotated[
        bool, typer.Option("--no-checkpoint", help="Keep no job state.")
    ] = False,
    restart: Annotated[
        bool,
        typer.Option("--restart", help="Start over despite an existing checkpoint."),
    ] = False,
    progress: ShowProgress = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Check every address of a list and write the rows you keep.

    SMTP checks need outbound port 25, which many networks block (use
    --checks syntax,dns there), and catch-all domains can never be proven
    either way: see README, "Limitations".
    """
    with _errors_to_exit_codes(debug):
        _configure_logging(quiet, verbose, debug)
        config = JobConfig(
            input=input,
            output=output,
            output_format=output_format,
            column=column,
            keep=parse_statuses(keep),
            drop_flagged=parse_flags(drop_flagged),
            split_dir=split_dir,
            dedupe=dedupe,
            concurrency=concurrency,
            per_host=per_host,
            max_connections=max_connections,
            greylist_wait=greylist_wait,
            excel_safe=excel_safe,
            encoding=encoding,
            force=force,
            checkpoint=checkpoint,
            use_checkpoint=not no_checkpoint,
            restart=restart,
            **_probe_options(
                checks,
                timeout,
                nameserver,
                smtp_port,
                helo,
                mail_from,
                allow_private_mx,
            ),
        )
        _run(config, quiet=quiet, progress=progress)


@app.command()
def resume(
    checkpoint: Annotated[
        Path, typer.Argument(help="The job's checkpoint file (OUTPUT.ckpt).")
    ],
    progress: ShowProgress = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Finish an interrupted job: same options, same output, nothing doubled."""
    with _errors_to_exit_codes(debug):
        _configure_logging(quiet, verbose, debug)
        console = make_console()
        with progress_bar(
            console, None, _shows_bar(console, progress, quiet)
        ) as update:
            summary = api.resume(checkpoint, update, _notifier(console, quiet))
        _report(console, summary, "the job's output", quiet)


@app.command()
def check(
    addresses: Annotated[list[str], typer.Argument(help="Addresses to check.")],
    checks: Checks = "syntax,dns,smtp",
    timeout: Timeout = DEFAULT_TIMEOUT,
    nameserver: Nameservers = None,
    smtp_port: SmtpPort = DEFAULT_SMTP_PORT,
    helo: Helo = None,
    mail_from: MailFrom = None,
    allow_private_mx: AllowPrivateMx = False,
    verbose: Verbose = False,
    debug: Debug = False,
) -> None:
    """Check a few addresses and show each verdict in detail.

    Exits 0 when every address is valid, 3 otherwise.
    """
    with _errors_to_exit_codes(debug):
        _configure_logging(False, verbose, debug)
        config = JobConfig(
            input="-",
            **_probe_options(
                checks,
                timeout,
                nameserver,
                smtp_port,
                helo,
                mail_from,
                allow_private_mx,
            ),
        )
        verdicts = api.check_addresses(addresses, config)
        console = make_console(stdout=True)
        for address, verdict in zip(addresses, verdicts, strict=True):
            print_card(console, address, verdict)
        all_valid = all(v.status is Status.VALID for v in verdicts)
        raise typer.Exit(0 if all_valid else EXIT_DEGRADED)


def _probe_options(
    checks: str,
    timeout: float,
    nameserver: list[str] | None,
    smtp_port: int,
    helo: str | None,
    mail_from: str | None,
    allow_private_mx: bool,
) -> dict[str, Any]:
    """JobConfig fields for the network layers, shared by validate and check."""
    return {
        "checks": parse_checks(checks),
        "timeout": timeout,
        "nameservers": tuple(nameserver or ()),
        "smtp_port": smtp_port,
        "helo": helo,
        "mail_from": mail_from,
        "allow_private_mx": allow_private_mx,
    }


def _shows_bar(console: Console, progress: bool | None, quiet: bool) -> bool:
    wanted = progress if progress is not None else console.is_terminal
    return wanted and not quiet


def _run(config: JobConfig, *, quiet: bool, progress: bool | None) -> None:
    console = make_console()
    total = _input_size(config.input)
    with progress_bar(console, total, _shows_bar(console, progress, quiet)) as update:
        summary = api.validate_file(config, update, _notifier(console, quiet))
    _report(
        console, summary, "stdout" if config.output == "-" else config.output, quiet
    )


def _report(
    console: Console, summary: JobSummary, destination: str, quiet: bool
) -> None:
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    for message in summary.degraded:
        console.print(f"[red]warning:[/] {message}")
    if not quiet:
        print_summary(console, summary, destination)
    if summary.degraded:
        raise typer.Exit(EXIT_DEGRADED)


def _notifier(console: Console, quiet: bool) -> Callable[[str], None]:
    def notify(message: str) -> None:
        if not quiet:
            # One unwrapped line, taken literally: it often holds a path the
            # user will copy (`[` in a path is not Rich markup).
            console.print(
                f"emailclean: {message}", soft_wrap=True, markup=False, highlight=False
            )

    return notify


def _input_size(path: str) -> int | None:
    if path == "-" or path.endswith(".gz"):
        return None
    try:
        return Path(path).stat().st_size
    except OSError:
        return None


@contextmanager
def _errors_to_exit_codes(debug: bool) -> Iterator[None]:
    """Turn our errors into one line on stderr and a documented exit code."""
    try:
        yield
    except EmailcleanError as error:
        if debug:
            raise
        _fail(str(error), error.exit_code)
    except BrokenPipeError:
        _quiet_broken_pipe()
    except KeyboardInterrupt:
        _fail("stopped.", 130)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"emailclean: {message}", err=True)
    raise typer.Exit(code)


def _quiet_broken_pipe() -> NoReturn:
    # The reader of our stdout went away (`| head`). Point stdout at
    # /dev/null so the interpreter's final flush does not complain.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise typer.Exit(EXIT_PIPE_CLOSED)


def _configure_logging(quiet: bool, verbose: bool, debug: bool) -> None:
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    if quiet:
        level = logging.ERROR
    logging.basicConfig(
        level=level, stream=sys.stderr, format="emailclean: %(levelname)s %(message)s"
    )


def main() -> None:
    app()
