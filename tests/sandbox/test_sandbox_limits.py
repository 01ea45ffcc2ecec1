"""Memory outside any process counts against the limit (the harness alone holds some 700 MB with the CUDA
build of PyTorch: the limits below leave room for it): the bubblewrap sandbox's tmpfs folders, files
left at any depth of the shared world-writable folders (and removed afterwards), deleted files held open."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from autograder.sandbox.isolation import INODE_BYTES, SANDBOX_UIDS, bytes_stored_by, remove_files_of
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
@pytest.mark.parametrize("mode", ["bubblewrap", "warm"])
@pytest.mark.parametrize("fill", [True, False])
def test_bubblewrap_tmpfs_folders_count_as_memory(mode, fill):
    code = FILL.format(folders=["/sandbox", "/tmp", "/dev/shm"] if fill else [], sleep=20)
    _, run = run_cell(code, mode, Limits(total_seconds=15, cell_seconds=30, memory_bytes=900 * MB))
    assert run.ended == ("ran out of memory" if fill else "timed out")


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
    assert bytes_stored_by(uid) == 4 * MB + 3 * INODE_BYTES   # two files and a folder
    remove_files_of(uid)
    assert not owned.exists() and not inner.exists() and Path("/etc/hostname").exists() and link.is_symlink()


def test_deleted_files_held_open_count(tmp_path):
    path = tmp_path / "held"
    with open(path, "wb") as handle:
        handle.write(b"x" * (2 * MB))
        handle.flush()
        before = held_file_bytes([os.getpid()])
        path.unlink()
        assert held_file_bytes([os.getpid()]) - before == 2 * MB + INODE_BYTES


@pytest.mark.slow
def test_user_mode_files_in_nested_shared_folders_count_and_go(shared_nest):
    code = FILL.format(folders=[str(shared_nest)], sleep=20) + "\n"
    marker = shared_nest / "marker"
    _, run = run_cell(f"open({str(marker)!r}, 'w').write('left')\n" + code, "user",
                      Limits(total_seconds=15, cell_seconds=30, memory_bytes=850 * MB))
    assert run.ended == "ran out of memory"
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
@pytest.mark.parametrize("mode", ["bubblewrap", "warm", "user"])
@pytest.mark.parametrize("pairs", [50, 3])
def test_kernel_buffers_of_sockets_and_pipes_count(mode, pairs):
    _, run = run_cell(QUEUED.format(pairs=pairs), mode,
                      Limits(total_seconds=12, cell_seconds=30, memory_bytes=1200 * MB))
    assert run.ended == ("ran out of memory" if pairs == 50 else "timed out"), run.memory_seen


# Memory that no resident size shows, each way its own cell: page tables of a sparse read-only mapping
# of the zero page; /dev/shm space allocated past the files' ends (their length stays 0); /dev/shm files
# mapped, closed and deleted (only a touched page is resident); empty files by the hundred thousand
# (inodes, no data); epoll watches that outlive their descriptor numbers.
PAGE_TABLES = """
import mmap, time
size = 1 << 40
sparse = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000, prot=mmap.PROT_READ)
sparse.madvise(mmap.MADV_NOHUGEPAGE)
total = 0
for offset in range(0, size, 2 << 20):
    total += sparse[offset]
time.sleep(20)
"""
ALLOCATED = """
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
for index in range(12):
    fd = os.open(f'/dev/shm/allocated-{os.getpid()}-{index}', os.O_CREAT | os.O_RDWR, 0o600)
    assert libc.fallocate(fd, 1, ctypes.c_long(0), ctypes.c_long(60 << 20)) == 0, ctypes.get_errno()  # KEEP_SIZE
    os.close(fd)
time.sleep(20)
"""
MAPPED = """
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
for index in range(12):
    path = f'/dev/shm/mapped-{os.getpid()}-{index}'
    with open(path, 'wb') as handle:
        handle.write(b'm' * (60 << 20))
    fd = os.open(path, os.O_RDONLY)
    assert libc.mmap(None, 4096, 1, 1, fd, 0) not in (None, ctypes.c_void_p(-1).value)   # PROT_READ, MAP_SHARED
    os.close(fd)
    os.unlink(path)
time.sleep(20)
"""
EPOLL = """
import os, select, time
watcher = select.epoll()
ends = []
for _ in range(140):
    reading, writing = os.pipe()
    os.close(writing)
    ends.append(reading)
assert max(ends) < 150
for number in range(150, 250):
    for end in ends:
        os.dup2(end, number)
        watcher.register(number)   # the watch outlives the number: the file stays open through ``end``
        os.close(number)
time.sleep(20)
"""
INODES = """
import os, time
os.mkdir('many')
for index in range(300_000):
    open(f'many/{index}', 'w').close()
time.sleep(20)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "code"), [
    ("bubblewrap", PAGE_TABLES), ("warm", PAGE_TABLES), ("user", PAGE_TABLES), ("user", ALLOCATED),
    ("user", MAPPED), ("bubblewrap", INODES), ("warm", INODES), ("bubblewrap", EPOLL), ("user", EPOLL)],
    ids=["page-tables-bubblewrap", "page-tables-warm", "page-tables-user", "allocated-user", "mapped-deleted-user",
         "inodes-bubblewrap", "inodes-warm", "epoll-watches-bubblewrap", "epoll-watches-user"])
def test_memory_outside_resident_sizes_counts(mode, code):
    _, run = run_cell(code, mode, Limits(total_seconds=40, cell_seconds=60, memory_bytes=1200 * MB))
    assert run.ended == "ran out of memory", (run.ended, run.memory_seen, run.stderr_tail)


# The main thread of a process exits (``exit``, not ``exit_group``), then another takes 700 MB: the
# kernel shows no memory under the process's pid any more, only under its threads'.
HEADLESS = """
import ctypes, threading, time
def hoard():
    time.sleep(1)
    block = bytearray(700 << 20)
    for index in range(0, len(block), 4096):
        block[index] = 1
    time.sleep(30)
threading.Thread(target=hoard).start()
ctypes.CDLL(None).syscall(60, 0)
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["bubblewrap", "warm", "user"])
@pytest.mark.parametrize("where", ["harness", "child"])
def test_memory_of_a_process_whose_main_thread_exited_counts(mode, where):
    code = HEADLESS if where == "harness" else \
        f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {HEADLESS!r}])\ntime.sleep(30)"
    _, run = run_cell(code, mode, Limits(total_seconds=40, cell_seconds=60, memory_bytes=1200 * MB))
    assert run.ended == "ran out of memory", (run.ended, run.memory_seen, run.stderr_tail)
