"""Test-only fault injection for the crash-safety tests.

Two environment switches, read once at import, both off unless set:

- `EMAILCLEAN_TEST_CRASH=POINT:N` makes the process die at once
  (`os._exit(99)`, like a power cut: no cleanup, no flush) the N-th time it
  reaches POINT;
- `EMAILCLEAN_TEST_FAIL=POINT:N:ERRNO` raises `OSError(ERRNO)` there instead
  (e.g. `write:3:ENOSPC` simulates a full disk without needing root).

POINT is one of `write`, `fsync`, `rename`, `truncate`, `commit`. They mark
the steps whose order makes a job crash-safe (DESIGN §7).
"""

from __future__ import annotations

import errno
import os
from collections import Counter

POINTS = ("write", "fsync", "rename", "truncate", "commit")
CRASH_EXIT_CODE = 99


def _parse(variable: str) -> tuple[str, int, str] | None:
    text = os.environ.get(variable, "")
    if not text:
        return None
    point, count, *rest = text.split(":") + [""]
    return point, int(count), rest[0]


_CRASH = _parse("EMAILCLEAN_TEST_CRASH")
_FAIL = _parse("EMAILCLEAN_TEST_FAIL")
_reached: Counter[str] = Counter()


def reach(point: str) -> None:
    """Mark that `point` is about to happen; crash or fail there if asked."""
    if _CRASH is None and _FAIL is None:
        return
    _reached[point] += 1
    if _CRASH is not None and _CRASH[:2] == (point, _reached[point]):
        os._exit(CRASH_EXIT_CODE)
    if _FAIL is not None and _FAIL[:2] == (point, _reached[point]):
        code = getattr(errno, _FAIL[2] or "EIO")
        raise OSError(code, os.strerror(code))
