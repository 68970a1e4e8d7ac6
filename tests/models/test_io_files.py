"""What ``models/io.py`` reads from and writes to: regular files only, atomically, as open() would.

Each case here once went wrong (QA pass, /tmp/qa-invalid): a named pipe as input hung for ever;
``-o /dev/full`` as root replaced the device with a schedule; an output path that was a symbolic
link became a regular file; outputs came out 0600 whatever the umask, and an existing 0644 file
became 0600; a parent that is a file, a folder without permission, /proc or a full disk ended in
a traceback (exit 70).
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.errors import InvalidDocument, OutputError
from models.io import load_scenario, load_schedule, read_document, write_atomic


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the working folder (a socket's path must be short: relative it is)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process's umask after a test that sets it."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.fixture
def socket_file(in_tmp: Path) -> Iterator[Path]:
    """A Unix socket bound at ``./s.sock``."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind("s.sock")
        yield Path("s.sock")
    finally:
        server.close()


def _read_with_timeout(path: Path, seconds: float = 10.0) -> BaseException | None:
    """The exception :func:`read_document` raised (None if none); fails if it blocks."""
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            read_document(path)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    assert outcome, f"read_document({path}) blocked for {seconds} s"
    return outcome[0]


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# --------------------------------------------------------------------------- reading


def test_a_named_pipe_is_refused_at_once(tmp_path: Path) -> None:
    """QA p-fifo-input: ``validate fifo.yaml`` waited for a writer for ever."""
    pipe = _fifo(tmp_path / "week.yaml")
    error = _read_with_timeout(pipe)
    assert isinstance(error, InvalidDocument)
    assert [str(issue) for issue in error.issues] == [f"{pipe}: is not a regular file (a named pipe)"]


def test_a_symbolic_link_to_a_named_pipe_is_refused_and_to_a_file_is_read(tmp_path: Path) -> None:
    pipe_link, file_link = tmp_path / "pipe.yaml", tmp_path / "file.yaml"
    pipe_link.symlink_to(_fifo(tmp_path / "pipe"))
    error = _read_with_timeout(pipe_link)
    assert isinstance(error, InvalidDocument)
    assert "is not a regular file (a named pipe)" in str(error)
    (tmp_path / "real.yaml").write_text("format: iop-scenario/1\n")
    file_link.symlink_to(tmp_path / "real.yaml")
    assert read_document(file_link) == ({"format": "iop-scenario/1"}, b"format: iop-scenario/1\n")


def test_a_socket_and_a_folder_are_refused(socket_file: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidDocument, match=r"s\.sock: is not a regular file \(a socket\)"):
        read_document(socket_file)
    with pytest.raises(InvalidDocument, match="is a directory, not a file"):
        read_document(tmp_path)


# --------------------------------------------------------------------------- writing: what is replaced


def test_a_named_pipe_is_not_replaced(tmp_path: Path) -> None:
    """QA p-out-dev-full: as root, ``-o /dev/full`` replaced the device with a schedule. A named
    pipe stands in for the device here: both are files that are not regular files."""
    pipe = _fifo(tmp_path / "out.yaml")
    with pytest.raises(OutputError) as caught:
        write_atomic(pipe, "sessions: []\n")
    assert str(caught.value) == f"{pipe}: cannot be written: it is a named pipe, not a regular file, and is left as it is"
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert _names(tmp_path) == ["out.yaml"]  # no temporary file left


def test_a_socket_and_a_folder_are_not_replaced(socket_file: Path, in_tmp: Path) -> None:
    with pytest.raises(OutputError, match=r"s\.sock: cannot be written: it is a socket, not a regular file"):
        write_atomic(socket_file, "x")
    assert stat.S_ISSOCK(os.lstat(socket_file).st_mode)
    (in_tmp / "folder").mkdir()
    with pytest.raises(OutputError, match="folder: cannot be written: it is a directory, not a regular file"):
        write_atomic(in_tmp / "folder", "x")
    assert (in_tmp / "folder").is_dir()
    assert _names(in_tmp) == ["folder", "s.sock"]


def test_a_symbolic_link_is_written_through_and_stays(tmp_path: Path) -> None:
    """QA o-symlink-out: the link was replaced by a regular file and its target left stale."""
    target, link = tmp_path / "real.yaml", tmp_path / "link.yaml"
    target.write_text("old\n")
    target.chmod(0o640)
    link.symlink_to(target.name)  # relative, as ``ln -s real.yaml link.yaml`` makes it
    write_atomic(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == "real.yaml"
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _names(tmp_path) == ["link.yaml", "real.yaml"]


def test_a_dangling_symbolic_link_gets_its_target_made(tmp_path: Path) -> None:
    link = tmp_path / "link.yaml"
    link.symlink_to(tmp_path / "out" / "week.yaml")
    write_atomic(link, "new\n")
    assert link.is_symlink()
    assert (tmp_path / "out" / "week.yaml").read_text() == "new\n"


# --------------------------------------------------------------------------- writing: permission bits


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_mode_open_would_give(tmp_path: Path, umask: None, mask: int, mode: int) -> None:
    """0666 less the umask, as a plain ``open(path, "w")`` (QA: always 0600 through mkstemp)."""
    os.umask(mask)
    write_atomic(tmp_path / "week.yaml", "x\n")
    with open(tmp_path / "plain.yaml", "w") as handle:
        handle.write("x\n")
    assert stat.S_IMODE((tmp_path / "week.yaml").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "plain.yaml").stat().st_mode) == mode


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o755])
def test_an_existing_file_keeps_its_mode(tmp_path: Path, umask: None, mode: int) -> None:
    """QA: an existing 0644 schedule became 0600. The umask does not apply to it."""
    os.umask(0o077)
    target = tmp_path / "week.yaml"
    target.write_text("old\n")
    target.chmod(mode)
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == mode


# --------------------------------------------------------------------------- writing: failures


def test_a_parent_that_is_a_file_is_named(tmp_path: Path) -> None:
    """QA p-out-parent-is-file: FileExistsError, exit 70."""
    (tmp_path / "afile").write_text("x")
    for path in (tmp_path / "afile" / "x.yaml", tmp_path / "afile" / "a" / "b" / "x.yaml"):
        with pytest.raises(OutputError) as caught:
            write_atomic(path, "x")
        assert str(caught.value) == f"{path}: cannot be written: {tmp_path / 'afile'} is a file, not a folder"
        assert caught.value.errno == errno.ENOTDIR
    assert _names(tmp_path) == ["afile"]


def test_a_full_disk_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC surfaces at the sync; the old file stays whole and the temporary goes."""
    target = tmp_path / "week.yaml"
    target.write_text("old\n")

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("models.io.os.fsync", full)
    with pytest.raises(OutputError) as caught:
        write_atomic(target, "new\n")
    assert str(caught.value) == f"{target}: cannot be written: No space left on device"
    # An OSError still, with the reason: the batch runner reads error.strerror.
    assert isinstance(caught.value, OSError)
    assert (caught.value.errno, caught.value.strerror, caught.value.filename) == (errno.ENOSPC, "No space left on device", str(target))
    assert target.read_text() == "old\n"
    assert _names(tmp_path) == ["week.yaml"]


def test_no_permission_is_an_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """QA p-out-immutable-dir: PermissionError, exit 70 (simulated: root may write anywhere)."""
    real_open = os.open

    def refuse(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if flags & os.O_CREAT:
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr("models.io.os.open", refuse)
    with pytest.raises(OutputError) as caught:
        write_atomic(tmp_path / "week.yaml", "x")
    assert str(caught.value) == f"{tmp_path / 'week.yaml'}: cannot be written: Operation not permitted"
    assert _names(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_folder_is_an_output_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="ro/week.yaml: cannot be written: Permission denied"):
            write_atomic(folder / "week.yaml", "x")
        assert _names(folder) == []
    finally:
        folder.chmod(0o700)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no procfs")
def test_a_path_under_proc_is_an_output_error() -> None:
    """QA p-out-proc: FileNotFoundError, exit 70. Nothing can be made in /proc."""
    with pytest.raises(OutputError, match=r"^/proc/iop-roster-test\.yaml: cannot be written: "):
        write_atomic("/proc/iop-roster-test.yaml", "x")


@pytest.mark.parametrize("path", [0, 5, None, 1.5])
@pytest.mark.parametrize("loader", [load_scenario, load_schedule])
def test_a_path_that_is_not_text_is_a_type_error(loader: object, path: object) -> None:
    # QA: an int was taken for a file descriptor ("5: cannot be read: Bad file descriptor";
    # 0 is standard input), and None failed inside os.stat.
    with pytest.raises(TypeError, match=rf"is named by a path \(str or Path\), not {type(path).__name__}"):
        loader(path)  # type: ignore[operator]


def test_a_bytes_path_is_read_and_named_as_text() -> None:
    sample = Path(__file__).resolve().parents[2] / "scenarios" / "two-states.yaml"
    assert load_scenario(os.fsencode(sample)).file == str(sample)  # type: ignore[arg-type]
    broken = Path(__file__).resolve().parents[2] / "scenarios" / "invalid" / "week-start-not-monday.yaml"
    with pytest.raises(InvalidDocument) as caught:
        load_scenario(os.fsencode(broken))  # type: ignore[arg-type]
    assert caught.value.file == str(broken)
