"""Memory outside any process counts against the limit (the harness alone holds some 700 MB with the CUDA
build of PyTorch: the limits below leave room for it): the bubblewrap sandbox's tmpfs folders, files
left at any depth of the shared world-writable folders (and removed afterwards), deleted files held open."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from autograder.sandbox.isolation import SANDBOX_UIDS, bytes_stored_by, remove_files_of
from autograder.sandbox.process import Limits, held_file_bytes
from sandbox_cells import run_cell

MB = 1024**2
FILL = """
import os
chunk = b'x' * (50 * 1024 * 1024)
for folder in {folders!r}:
    for index in range(5):
        try:
            with open(f'{{folder}}/fill-{{index}}', 'wb') as handle:
                handle.write(chunk)
        except OSError:
            break
import time
time.sleep({sleep})
"""


@pytest.mark.slow
@pytest.mark.parametrize("fill", [True, False])
def test_bubblewrap_tmpfs_folders_count_as_memory(fill):
    code = FILL.format(folders=["/sandbox", "/tmp", "/dev/shm"] if fill else [], sleep=20)
    _, run = run_cell(code, "bubblewrap", Limits(total_seconds=15, cell_seconds=30, memory_bytes=900 * MB))
    assert run.ended == ("memory limit" if fill else "timed out")


@pytest.fixture
def shared_nest():
    """/tmp/<x>/a/b, world-writable and sticky at every level, owned by someone other than the sandbox."""
    top = Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    nest = top / "a" / "b"
    nest.mkdir(parents=True)
    for folder in (top, top / "a", nest):
        folder.chmod(0o1777)
    yield nest
    shutil.rmtree(top, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="files of another uid need root")
def test_files_of_a_sandbox_uid_at_any_depth_are_counted_and_removed(shared_nest):
    uid = SANDBOX_UIDS[-1]
    owned = shared_nest / "marker"
    owned.write_bytes(b"y" * MB)
    os.chown(owned, uid, uid)
    inner = shared_nest / "made"
    inner.mkdir()
    (inner / "data").write_bytes(b"z" * (3 * MB))
    os.chown(inner, uid, uid)
    link = shared_nest / "link"
    link.symlink_to("/etc")   # followed, it would count /etc and remove its files
    os.lchown(link, 0, 0)
    assert bytes_stored_by(uid) == 4 * MB
    remove_files_of(uid)
    assert not owned.exists() and not inner.exists() and Path("/etc/hostname").exists() and link.is_symlink()


def test_deleted_files_held_open_count(tmp_path):
    path = tmp_path / "held"
    with open(path, "wb") as handle:
        handle.write(b"x" * (2 * MB))
        handle.flush()
        before = held_file_bytes([os.getpid()])
        path.unlink()
        assert held_file_bytes([os.getpid()]) - before == 2 * MB


@pytest.mark.slow
def test_user_mode_files_in_nested_shared_folders_count_and_go(shared_nest):
    code = FILL.format(folders=[str(shared_nest)], sleep=20) + "\n"
    marker = shared_nest / "marker"
    _, run = run_cell(f"open({str(marker)!r}, 'w').write('left')\n" + code, "user",
                      Limits(total_seconds=15, cell_seconds=30, memory_bytes=850 * MB))
    assert run.ended == "memory limit"
    assert list(shared_nest.iterdir()) == []


# Kernel memory queued on sockets that the cell keeps open, and pipes full of data: no process's
# resident memory, counted at the most each can hold.
QUEUED = """
import os, socket, time
held = []
for index in range({pairs}):
    sender, receiver = socket.socketpair()
    sender.setblocking(False)
    try:
        while True:
            sender.send(b'q' * 65536)
    except BlockingIOError:
        pass
    held.append((sender, receiver))
    reading, writing = os.pipe()
    os.set_blocking(writing, False)
    try:
        while True:
            os.write(writing, b'p' * 65536)
    except BlockingIOError:
        pass
    held.append((reading, writing))
time.sleep(20)
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["bubblewrap", "user"])
@pytest.mark.parametrize("pairs", [50, 3])
def test_kernel_buffers_of_sockets_and_pipes_count(mode, pairs):
    _, run = run_cell(QUEUED.format(pairs=pairs), mode,
                      Limits(total_seconds=12, cell_seconds=30, memory_bytes=1200 * MB))
    assert run.ended == ("memory limit" if pairs == 50 else "timed out"), run.memory_seen
