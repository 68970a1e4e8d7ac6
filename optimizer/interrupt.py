"""Ctrl-C noted instead of raised, for work that must end cleanly (a solve, a cluster's start)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def first_ctrl_c_noted() -> Iterator[threading.Event]:
    """An event set by the first Ctrl-C while the block runs; a second one raises
    ``KeyboardInterrupt`` at once (the work may hang). The previous handler is restored after.

    Outside the main thread (where signals cannot be handled) the event is never set and
    Ctrl-C behaves as it would without the block.
    """
    noted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return

    def note(_signum: int, _frame: object) -> None:
        if noted.is_set():
            raise KeyboardInterrupt
        noted.set()

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)
