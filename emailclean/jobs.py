"""Start, resume and finish jobs together with their checkpoints (DESIGN §7).

- `start_job`: a file output gets job state (`OUTPUT.ckpt` unless told
  otherwise) unless --no-checkpoint. An existing checkpoint of the same
  job is never silently replaced: the user is pointed at `resume` or
  `--restart`. A job reading stdin is resumable only with an explicit
  --checkpoint, which spools stdin beside it first. A job writing to stdout
  keeps no checkpoint.
- `resume_job`: refuses, with exit code 4, when the state is damaged or
  locked, written by another version, or the input changed; otherwise goes
  on from the last commit. A checkpoint marked complete only finishes the
  renames and is removed.
- On success the outputs are renamed into place, then the checkpoint (and
  any spool) removed.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import stat
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any, BinaryIO

from emailclean import __version__
from emailclean.checks.lists import lists_version
from emailclean.config import JobConfig
from emailclean.errors import CheckpointError, OutputError, UsageError
from emailclean.io.checkpoint import (
    JobHeader,
    JobState,
    fingerprint,
    looks_like_checkpoint,
    refuse_if_busy,
)
from emailclean.io.outputs import output_paths, partial_path, publish
from emailclean.io.readers import open_input
from emailclean.io.writers import FORMATS
from emailclean.pipeline import Job, JobSummary, ProgressCallback

Notify = Callable[[str], None]
SPOOL_SUFFIX = ".spool"
# Settings that do not change results but that a resumed job keeps anyway,
# so it behaves as the interrupted one did.
_TUNING = ("concurrency", "per_host", "max_connections", "timeout", "force")


def start_job(
    config: JobConfig,
    progress: ProgressCallback | None = None,
    notify: Notify | None = None,
) -> JobSummary:
    """Run a `validate` job, with job state when it can have one."""
    checkpoint = _checkpoint_path(config)
    if checkpoint is None:
        return _run(Job(config, progress))

    _clear_or_refuse(checkpoint, config)
    _refuse_existing_outputs(config)
    input_path = config.input
    spooled = _read_once(config.input)
    if spooled:
        input_path = _spool_input(config, checkpoint, notify)
    else:
        open_input(input_path).close()  # the reader's own messages when it can't
    try:
        state = JobState.create(checkpoint, _header(config, input_path, spooled))
    except BaseException:
        if spooled:
            Path(input_path).unlink(missing_ok=True)
        raise
    return _run_with_state(Job(config, progress, state), state)


def resume_job(
    checkpoint: Path,
    progress: ProgressCallback | None = None,
    notify: Notify | None = None,
) -> JobSummary:
    """Finish an interrupted job from its checkpoint."""
    state = JobState.open(checkpoint)
    try:
        _check_versions(state)
        if state.progress.complete:
            return _finish_completed(state, notify)
        _check_input(state)
        config = _config_from(state.header)
    except BaseException:
        state.close()
        raise
    return _run_with_state(Job(config, progress, state), state)


def _run(job: Job) -> JobSummary:
    return asyncio.run(job.run())


def _run_with_state(job: Job, state: JobState) -> JobSummary:
    try:
        summary = _run(job)
    except BaseException:
        state.close()
        raise
    _remove_state(state)
    return summary


def _checkpoint_path(config: JobConfig) -> Path | None:
    if config.output == "-":
        if config.checkpoint:
            raise UsageError(
                "--checkpoint needs -o FILE: a job writing to stdout keeps no "
                "checkpoint"
            )
        return None
    if not config.use_checkpoint:
        return None
    if _read_once(config.input) and not config.checkpoint:
        return None
    checkpoint = Path(config.checkpoint or config.output + ".ckpt").absolute()
    for role, path in (("input", config.input), ("output", config.output)):
        if checkpoint == Path(path).absolute():
            raise UsageError(
                f"--checkpoint {config.checkpoint} is the {role}; choose another path"
            )
    return checkpoint


def _read_once(path: str) -> bool:
    """stdin, or a pipe, FIFO or device (bash's `<(zcat list.gz)` is
    /dev/fd/63): its bytes can be read only once, so the job state cannot
    fingerprint it and then read it again; it is spooled instead."""
    if path == "-":
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # missing: the reader says so


def _clear_or_refuse(checkpoint: Path, config: JobConfig) -> None:
    if not checkpoint.exists():
        return
    if not config.restart:
        refuse_if_busy(checkpoint)
        raise CheckpointError(
            f"{checkpoint} exists: an earlier run of this job was interrupted. "
            f"Finish it with: emailclean resume {shlex.quote(str(checkpoint))} "
            "(or start over with --restart)"
        )
    try:
        JobState.open(checkpoint).remove()
    except CheckpointError as error:
        if "another emailclean process" in str(error):
            raise
        if not looks_like_checkpoint(checkpoint):
            raise CheckpointError(
                f"{checkpoint} is not an emailclean checkpoint, so --restart "
                "leaves it alone; choose another --checkpoint path"
            ) from None
        checkpoint.unlink()
    for path in _every_output_path(config):
        partial_path(path).unlink(missing_ok=True)


def _refuse_existing_outputs(config: JobConfig) -> None:
    if config.force:
        return
    for path in _every_output_path(config):
        if path.exists():
            raise UsageError(f"{path} already exists; add --force to overwrite it")


def _every_output_path(config: JobConfig) -> set[Path]:
    """Output paths for every format (split files' names depend on it)."""
    return {
        path
        for output_format in FORMATS
        for path in output_paths(config, output_format).values()
        if path is not None
    }


def _spool_input(config: JobConfig, checkpoint: Path, notify: Notify | None) -> str:
    # The spool keeps the input's kind in its name (a FIFO `list.txt` gives
    # CKPT.spool.txt), so a resumed job reads it as the first run did.
    kind = f".{config.input_kind}" if config.input_kind else ""
    spool = Path(str(checkpoint) + SPOOL_SUFFIX + kind)
    shown = "stdin" if config.input == "-" else config.input
    if notify is not None:
        notify(f"reading {shown} into {spool} so the job can resume")
    fd = os.open(spool, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as target, _source(config.input) as source:
            shutil.copyfileobj(source, target, 1 << 20)
            target.flush()
            os.fsync(target.fileno())
    except BaseException as error:
        # Stopped or failed before the job state exists: there is nothing to
        # resume, and the spool is a copy of the user's list.
        spool.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(
                f"{spool}: cannot keep a copy of {shown} ({error.strerror})"
            ) from error
        raise
    return str(spool)


def _source(path: str) -> BinaryIO:
    if path == "-":
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    return open(path, "rb")


def _header(config: JobConfig, input_path: str, spooled: bool) -> JobHeader:
    paths = output_paths(config, "csv")
    options = config.result_options()
    options.update({name: getattr(config, name) for name in _TUNING})
    return JobHeader(
        input_path=str(Path(input_path).absolute()),
        input_fingerprint=fingerprint(input_path),
        output_path=str(paths[None]),
        split_dir=str(Path(config.split_dir).absolute()) if config.split_dir else None,
        options=options,
        emailclean_version=__version__,
        lists_version=lists_version(),
        input_display=config.input,
        spool=spooled,
    )


def _config_from(header: JobHeader) -> JobConfig:
    known = {f.name for f in fields(JobConfig)}
    options: dict[str, Any] = {
        k: v for k, v in header.options.items() if k in known and k != "split_dir"
    }
    for name in ("keep", "drop_flagged", "checks"):
        options[name] = _enum_set(name, options[name])
    options["nameservers"] = tuple(options["nameservers"])
    return JobConfig(
        input=header.input_path,
        output=header.output_path,
        split_dir=header.split_dir,
        **options,
    )


def _enum_set(name: str, values: list[str]) -> frozenset[Any]:
    from emailclean.models import Check, Flag, Status

    enum = {"keep": Status, "drop_flagged": Flag, "checks": Check}[name]
    return frozenset(enum(value) for value in values)


def _check_versions(state: JobState) -> None:
    header = state.header
    if header.emailclean_version != __version__:
        raise CheckpointError(
            f"{state.path} was written by emailclean {header.emailclean_version}, "
            f"this is {__version__}; finish it with that version or start over "
            "with --restart"
        )
    if header.lists_version != lists_version():
        raise CheckpointError(
            f"{state.path}: the list data changed since the job started "
            f"({header.lists_version} then, {lists_version()} now); start over "
            "with --restart"
        )


def _check_input(state: JobState) -> None:
    header = state.header
    shown = header.input_display
    if header.spool:
        shown = "the spooled stdin" if shown == "-" else f"the spooled copy of {shown}"
    try:
        now = fingerprint(header.input_path)
    except OSError:
        raise CheckpointError(
            f"{shown} ({header.input_path}) is gone; the job cannot resume"
        ) from None
    if now != header.input_fingerprint:
        raise CheckpointError(
            f"{shown} changed since the job started (size or content differ); "
            "start over with --restart"
        )


def _finish_completed(state: JobState, notify: Notify | None) -> JobSummary:
    for path in state.progress.outputs:
        if path != "None":
            publish(Path(path))
    if notify is not None:
        notify(f"{state.path}: the job was already complete; nothing to do")
    summary = JobSummary()
    summary.restore(state.progress.counters)
    _remove_state(state)
    return summary


def _remove_state(state: JobState) -> None:
    spool = state.header.input_path if state.header.spool else None
    state.remove()
    if spool:
        Path(spool).unlink(missing_ok=True)
