"""The LP bound's worker process: ``python -m optimizer.lp_worker`` (see :class:`optimizer.bound.LpBoundJob`).

Reads a linear relaxation from stdin (the arrays of :class:`optimizer.bound.LinearRelaxation`
in field order, after the settings: see :func:`read_relaxation`) and writes one JSON
line per bound it proves to stdout. PDLP holds Python's GIL while it runs, so it runs
here, beside the search and not inside it: the solve's own process stays responsive,
the LP's memory is returned when the worker ends, and cancelling is killing the worker.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from dataclasses import asdict, fields, replace
from typing import IO, Any

import numpy as np

from optimizer.bound import LinearRelaxation, LpBound, constraint_matrix, pdlp_bound


def _read_exactly(stream: IO[bytes], size: int) -> bytearray:
    """``size`` bytes, read into one buffer (no chunks joined: the arrays run to 100 MB at XL)."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        chunk = stream.read(size - done)
        if not chunk:
            raise EOFError("the relaxation ended early")
        view[done : done + len(chunk)] = chunk
        done += len(chunk)
    return buffer


def read_relaxation(stream: IO[bytes]) -> tuple[LinearRelaxation, dict[str, Any]]:
    """The settings (a JSON line), then each array: a JSON line (dtype, shape) and its bytes."""
    settings = json.loads(stream.readline())
    arrays: dict[str, Any] = {}
    for field in fields(LinearRelaxation):
        meta = json.loads(stream.readline())
        dtype = np.dtype(meta["dtype"])
        count = int(np.prod(meta["shape"], dtype=np.int64))
        arrays[field.name] = np.frombuffer(_read_exactly(stream, count * dtype.itemsize), dtype=dtype).reshape(tuple(meta["shape"]))
    arrays["offset"] = float(arrays["offset"].reshape(-1)[0])
    return LinearRelaxation(**arrays), settings


def write_relaxation(stream: IO[bytes], lp: LinearRelaxation, settings: dict[str, Any]) -> None:
    stream.write((json.dumps(settings) + "\n").encode())
    for field in fields(LinearRelaxation):
        array = np.ascontiguousarray(getattr(lp, field.name))
        if field.name in ("rows", "cols") and len(array) and int(array.max()) < 2**31:
            array = array.astype(np.int32)  # half the bytes through the pipe and in the worker
        stream.write((json.dumps({"dtype": array.dtype.str, "shape": list(array.shape)}) + "\n").encode())
        stream.write(array.tobytes())


def _end_with_parent(parent: int) -> None:
    """On Linux, be killed when the solve's process ends, however it ends.

    A stopped or killed job (the service kills its solver process) must not leave its LP
    running for the rest of the time limit; PDLP holds the GIL, so no thread here could
    watch for it.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - every Linux libc has prctl
        return
    if os.getppid() != parent:  # the parent ended before the request took effect
        sys.exit(0)


def main() -> int:
    lp, settings = read_relaxation(sys.stdin.buffer)
    if "parent" in settings:
        _end_with_parent(int(settings["parent"]))
    # PDLP reads the matrix; the coordinate arrays go (XL: 5.4 million entries).
    matrix = constraint_matrix(lp)
    empty = np.zeros(0, dtype=np.int64)
    lp = replace(lp, rows=empty, cols=empty, vals=np.zeros(0))

    def emit(found: LpBound) -> None:
        sys.stdout.write(json.dumps(asdict(found)) + "\n")
        sys.stdout.flush()

    pdlp_bound(
        lp,
        float(settings["seconds"]),
        deterministic=bool(settings["deterministic"]),
        iterations=int(settings["iterations"]),
        tolerances=tuple(float(t) for t in settings["tolerances"]),
        on_bound=emit,
        matrix=matrix,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a process by LpBoundJob
    sys.exit(main())
