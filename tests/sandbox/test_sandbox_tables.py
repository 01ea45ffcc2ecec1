"""What the sandbox could take from the whole machine, in real sandboxes of both modes: the kernel's
host-wide tables (each kept small by the filter, an rlimit or a namespace), the kernel memory of its
mappings (charged by the watchdog), and host services behind pathname unix sockets (unreachable), while
an honest DataLoader with workers still runs."""

from __future__ import annotations

import socket
import tempfile
import threading
from pathlib import Path

import pytest

from autograder.sandbox.process import Limits
from sandbox_cells import run_cell

pytestmark = pytest.mark.slow

SANDBOXES = ("bubblewrap", "warm", "user")
MB = 1024**2
LIMITS = Limits()

# Each table, tried to the end: NAME=errno for what is refused outright, NAME=count for what is bounded.
TABLES = """
import ctypes, errno, os, subprocess, threading, time
libc = ctypes.CDLL(None, use_errno=True)

def checked(result):
    if result is not None and result < 0:
        raise OSError(ctypes.get_errno(), 'refused')
    return result

def refusal(call):
    try:
        checked(call())
        return 'ok'
    except OSError as error:
        return errno.errorcode.get(error.errno, 'refused')

def fill(make, most=100_000):
    held = []
    try:
        while len(held) < most:
            held.append(make())
    except (OSError, RuntimeError):
        pass
    return held

print('aio=' + refusal(lambda: libc.syscall(206, 65536, ctypes.byref(ctypes.c_ulong(0)))))   # io_setup
print('mqueue=' + refusal(lambda: libc.mq_open(b'/hoard', os.O_CREAT | os.O_RDWR, 0o600, None)))
print('pty=' + refusal(lambda: os.openpty() and None))
print('fanotify=' + refusal(lambda: libc.fanotify_init(0, 0)))
print('namespaces=' + refusal(lambda: libc.unshare(0x10000000)))
print('keys=' + refusal(lambda: libc.syscall(248, b'user', b'hoard', b'x' * 1000, 1000, -2)))   # add_key
files = fill(lambda: os.eventfd(0))
print(f'files={len(files)}')
for fd in files:
    os.close(fd)
timers = fill(lambda: checked(libc.timer_create(1, None, ctypes.byref(ctypes.c_void_p()))))
print(f'timers={len(timers)}')
release = threading.Event()
threads = fill(lambda: threading.Thread(target=release.wait, daemon=True).start())
print(f'threads={len(threads)}')
release.set()
time.sleep(0.5)
children = fill(lambda: subprocess.Popen(['sleep', '60']))
print(f'processes={len(children)}')
for child in children:
    child.kill()
    child.wait()
"""


def outcomes(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


@pytest.mark.parametrize("mode", SANDBOXES)
def test_host_wide_tables_keep_the_sandbox_share_small(mode):
    found = outcomes(run_cell(TABLES, mode)[0])
    assert {name: found.get(name) for name in ("aio", "pty", "fanotify", "namespaces", "keys")} == {
        "aio": "ENOSYS", "pty": "ENOENT" if mode in ("bubblewrap", "warm") else "EACCES", "fanotify": "EPERM",
        "namespaces": "EPERM", "keys": "EPERM"}, found
    assert found.get("mqueue") not in (None, "ok"), found
    assert 200 < int(found["files"]) < LIMITS.open_files, found            # RLIMIT_NOFILE
    assert 500 < int(found["timers"]) <= LIMITS.pending_signals, found     # RLIMIT_SIGPENDING
    for tasks in ("threads", "processes"):                                # RLIMIT_NPROC, per uid
        assert 10 < int(found[tasks]) < LIMITS.processes, found


# Children that each split one untouched mapping into tens of thousands (no page touched, no resident
# size grows): kernel slab the watchdog charges per mapping. Without splitting, the same children fit. A
# small launcher starts them, so that no reading catches a child between fork and exec, when it still
# shows the harness's resident memory as its own.
MAPPINGS = """
import subprocess, sys, time
split = '''
import ctypes, time
libc = ctypes.CDLL(None)
libc.mmap.restype = ctypes.c_void_p
pages = {splits} * 2 + 2
start = libc.mmap(None, pages * 4096, 1, 0x22 | 0x4000, -1, 0)
for page in range(0, pages - 2, 2):
    libc.mprotect(ctypes.c_void_p(start + page * 4096), 4096, 3)
print('split', flush=True)
time.sleep(60)
'''
launch = '''
import subprocess, sys, time
children = [subprocess.Popen([sys.executable, '-I', '-S', '-c', sys.argv[1]], stdout=subprocess.PIPE)
            for _ in range(24)]
print(sum(child.stdout.readline() == b'split\\\\n' for child in children), flush=True)
time.sleep(60)
'''
launcher = subprocess.Popen([sys.executable, '-I', '-S', '-c', launch, split], stdout=subprocess.PIPE)
print(launcher.stdout.readline().decode().strip())
time.sleep(60)
"""


@pytest.mark.parametrize("mode", SANDBOXES)
@pytest.mark.parametrize("splits", [64_000, 0])
def test_kernel_memory_of_mappings_counts(mode, splits):
    output, run = run_cell(MAPPINGS.format(splits=splits), mode,
                           Limits(total_seconds=40, cell_seconds=60, memory_bytes=1200 * MB))
    assert run.ended == ("ran out of memory" if splits else "timed out"), (run.ended, run.memory_seen, output)


@pytest.fixture
def host_service():
    """A listening pathname socket of another uid (the test's), world-connectable, in a world-writable
    folder under /tmp, that greets whoever connects; and a datagram socket beside it that records what
    it receives. Yields (folder, what the service heard)."""
    folder = Path(tempfile.mkdtemp(prefix="service-", dir="/tmp"))
    folder.chmod(0o1777)
    listener, inbox = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(folder / "greeter.sock"))
    inbox.bind(str(folder / "inbox.sock"))
    for name in ("greeter.sock", "inbox.sock"):
        (folder / name).chmod(0o777)
    listener.listen(4)
    heard: list[str] = []

    def serve() -> None:
        with listener:
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:
                    return
                heard.append("connected")
                connection.sendall(b"greetings from the host\n")
                connection.close()

    def receive() -> None:
        with inbox:
            while message := inbox.recv(100):
                heard.append(message.decode())

    for target in (serve, receive):
        threading.Thread(target=target, daemon=True).start()
    yield folder, heard
    listener.shutdown(socket.SHUT_RDWR)
    inbox.shutdown(socket.SHUT_RDWR)
    for name in ("greeter.sock", "inbox.sock"):
        (folder / name).unlink()
    folder.rmdir()


REACH = """
import errno, socket
for kind, attempt in (('stream', lambda s: s.connect({greeter!r}) or s.recv(100)),
                      ('datagram', lambda s: s.sendto(b'hello from the sandbox', {inbox!r}))):
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM if kind == 'stream' else socket.SOCK_DGRAM)
    try:
        print(kind + '=' + repr(attempt(probe)))
    except OSError as error:
        print(kind + '=' + errno.errorcode[error.errno])
"""


@pytest.mark.parametrize("mode", SANDBOXES)
def test_sockets_of_host_services_are_unreachable(mode, host_service):
    folder, heard = host_service
    probe = socket.socket(socket.AF_UNIX)
    probe.connect(str(folder / "greeter.sock"))   # the service works for the host
    assert probe.recv(100).startswith(b"greetings")
    probe.close()
    output, _ = run_cell(REACH.format(greeter=str(folder / "greeter.sock"), inbox=str(folder / "inbox.sock")), mode)
    assert outcomes(output) == {"stream": "EPERM", "datagram": "EPERM"}, output
    assert heard == ["connected"]   # the host's own probe only


HONEST_WORKERS = """
import torch
from torch.utils.data import DataLoader, TensorDataset
images = torch.arange(256 * 28 * 28, dtype=torch.float32).reshape(256, 1, 28, 28)
labels = torch.arange(256) % 10
loader = DataLoader(TensorDataset(images, labels), batch_size=64, num_workers=2)
batches = list(loader)
same = torch.equal(torch.cat([batch for batch, _ in batches]), images)
print('same' if same and torch.equal(torch.cat([target for _, target in batches]), labels) else 'different')
"""


@pytest.mark.parametrize("mode", SANDBOXES)
def test_honest_dataloader_workers_still_work(mode):
    output, run = run_cell(HONEST_WORKERS, mode)
    assert output.strip() == "same", (output, run.stderr_tail)
