"""The harness's system-call filter, in real sandboxes: what it refuses, with which errno, in every mode;
that honest PyTorch survives it; and that the grader refuses to grade when it cannot be installed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autograder.sandbox.harness import syscalls
from autograder.sandbox.harness.zygote import SETUP_EXIT
from autograder.sandbox.isolation import PROJECT
from autograder.sandbox.process import Ending
from sandbox_cells import MODES, run_cell

LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
# Each attempt prints NAME=outcome: 'ok' if the call succeeded, else the errno's name.
ATTEMPTS = LIBC + """
import errno, socket
def attempt(name, call):
    try:
        result = call()
        print(f'{name}=' + ('ok' if result is None or result >= 0 else errno.errorcode[ctypes.get_errno()]))
    except OSError as error:
        print(f'{name}=' + errno.errorcode[error.errno])
attempt('unshare_user', lambda: libc.unshare(0x10000000))
attempt('unshare_mount', lambda: libc.unshare(0x00020000))
attempt('unshare_net', lambda: libc.unshare(0x40000000))
attempt('setns', lambda: libc.setns(os.open('/proc/self/ns/net', os.O_RDONLY), 0))
attempt('clone_newuser', lambda: libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0))
attempt('clone3', lambda: libc.syscall(435, 0, 0))
stack = ctypes.create_string_buffer(1 << 16)
top = ctypes.c_void_p(ctypes.addressof(stack) + len(stack) - 64)
attempt('thread_own_files', lambda: libc.clone(ctypes.cast(libc.pause, ctypes.c_void_p), top, 0x100 | 0x800 | 0x10000, None))
attempt('mount_tmpfs', lambda: libc.mount(b'none', b'/tmp', b'tmpfs', 0, b'size=8g'))
attempt('fsopen', lambda: libc.syscall(430, b'tmpfs', 0))
attempt('open_tree', lambda: libc.syscall(428, -100, b'/', 1))
attempt('chroot', lambda: libc.chroot(b'/'))
attempt('shmget', lambda: libc.shmget(0, 4 << 30, 0o1600))
attempt('semget', lambda: libc.semget(0, 1, 0o1600))
attempt('msgget', lambda: libc.msgget(0, 0o1600))
attempt('memfd', lambda: os.memfd_create('hoard'))
attempt('io_uring', lambda: libc.syscall(425, 8, ctypes.create_string_buffer(120)))
attempt('ptrace', lambda: libc.ptrace(16, os.getppid(), 0, 0))
attempt('process_vm_readv', lambda: libc.syscall(310, os.getppid(), 0, 0, 0, 0, 0))
attempt('bpf', lambda: libc.syscall(321, 0, 0, 0))
attempt('perf_event_open', lambda: libc.syscall(298, 0, 0, -1, -1, 0))
attempt('keyctl', lambda: libc.syscall(250, 0, 0))
attempt('userfaultfd', lambda: libc.syscall(323, 0))
attempt('inet', lambda: socket.socket(socket.AF_INET).connect(('127.0.0.1', 9)))
attempt('inet6', lambda: socket.socket(socket.AF_INET6))
attempt('netlink', lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW))
attempt('packet', lambda: libc.socket(17, 3, 0))
attempt('inet_in_thread', lambda: __import__('concurrent.futures').futures.ThreadPoolExecutor(1).submit(
    socket.socket, socket.AF_INET).result())
attempt('unix', lambda: socket.socketpair()[0].close())
pair = socket.socketpair()
attempt('send_fds', lambda: socket.send_fds(pair[0], [b'x'], [os.open('/proc/self/stat', os.O_RDONLY)]) and None)
attempt('sendmsg', lambda: pair[0].sendmsg([b'x']) and None)
attempt('send', lambda: pair[0].send(b'x') and None)
attempt('sndbuf', lambda: pair[0].setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22))
attempt('rcvbufforce', lambda: pair[1].setsockopt(socket.SOL_SOCKET, 33, 1 << 22))
attempt('keepalive', lambda: pair[0].setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
listener = socket.socket(socket.AF_UNIX)
listener.bind(f'\\0probe-listener-{os.getpid()}')
attempt('listen_long', lambda: listener.listen(4096))
attempt('listen_short', lambda: listener.listen(8))
attempt('connect_own', lambda: socket.socket(socket.AF_UNIX).connect(f'\\0probe-listener-{os.getpid()}'))
attempt('sendto_address', lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'x', '/dev/log') and None)
attempt('aio', lambda: libc.syscall(206, 128, ctypes.byref(ctypes.c_ulong(0))))
import fcntl
pipe_ends = os.pipe()
attempt('pipe_resize', lambda: fcntl.fcntl(pipe_ends[0], 1031, 1 << 20) and None)
page = ctypes.create_string_buffer(4096)
vector = (ctypes.c_void_p * 2)(ctypes.addressof(page), 4096)
attempt('vmsplice', lambda: libc.vmsplice(pipe_ends[1], vector, 1, 0))
with open('spliced', 'wb') as handle:
    handle.write(b's' * 4096)
source = os.open('spliced', os.O_RDONLY)
attempt('splice', lambda: os.splice(source, pipe_ends[1], 4096) and None)
other = os.pipe()
attempt('tee', lambda: libc.tee(pipe_ends[0], other[1], 4096, 0))
attempt('setxattr', lambda: os.setxattr('spliced', 'user.hoard', b'x' * 60000))
attempt('inotify', lambda: libc.inotify_init1(0))
attempt('record_lock', lambda: fcntl.lockf(source, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 0))
attempt('ofd_lock', lambda: fcntl.fcntl(source, 37, bytes(32)) and None)
attempt('flock', lambda: fcntl.flock(source, fcntl.LOCK_SH))
attempt('fork', lambda: os.waitpid(os.fork() or os._exit(0), 0) and None)
"""
REFUSED = {"unshare_user": "EPERM", "unshare_mount": "EPERM", "unshare_net": "EPERM", "setns": "EPERM",
           "clone_newuser": "EPERM", "clone3": "ENOSYS", "thread_own_files": "EPERM", "mount_tmpfs": "EPERM", "fsopen": "EPERM",
           "open_tree": "EPERM", "chroot": "EPERM", "shmget": "EPERM", "semget": "EPERM", "msgget": "EPERM",
           "memfd": "ENOSYS", "io_uring": "EPERM", "ptrace": "EPERM", "process_vm_readv": "EPERM", "bpf": "EPERM",
           "perf_event_open": "EPERM", "keyctl": "EPERM", "userfaultfd": "EPERM", "inet": "EAFNOSUPPORT",
           "inet6": "EAFNOSUPPORT", "netlink": "EAFNOSUPPORT", "packet": "EAFNOSUPPORT",
           "inet_in_thread": "EAFNOSUPPORT", "unix": "ok", "send_fds": "EPERM", "sendmsg": "EPERM",
           "send": "ok", "sndbuf": "EPERM", "rcvbufforce": "EPERM", "keepalive": "ok", "listen_long": "EPERM",
           "listen_short": "ok", "connect_own": "EPERM", "sendto_address": "EPERM", "aio": "ENOSYS",
           "pipe_resize": "EPERM", "vmsplice": "EPERM", "splice": "EPERM", "tee": "EPERM",
           "setxattr": "EPERM", "inotify": "ENOSYS", "record_lock": "ENOLCK", "ofd_lock": "ENOLCK", "flock": "ok",
           "fork": "ok"}


def outcomes(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_the_filter_refuses_every_listed_call_in_every_mode(mode):
    output, run = run_cell(ATTEMPTS, mode)
    assert outcomes(output) == REFUSED, output


@pytest.mark.slow
@pytest.mark.parametrize("mode", ("bubblewrap", "warm", "user"))
def test_children_inherit_the_filter(mode):
    child = ("import socket\ntry:\n    socket.socket(socket.AF_INET)\n    print('open')\n"
             "except OSError as e:\n    print(e.errno)")
    output, _ = run_cell(f"import subprocess, sys\nprint(subprocess.run([sys.executable, '-c', {child!r}], "
                         "capture_output=True, text=True).stdout.strip())", mode)
    assert output.strip() == "97"


# 32-bit system calls from a 64-bit process (``int 0x80``): unshare(CLONE_NEWUSER) in the i386 numbering.
INT80 = LIBC + """
import mmap, os
code = bytes([0xb8, 0x36, 0x01, 0, 0, 0xbb, 0, 0, 0, 0x10, 0xcd, 0x80, 0xc3])   # eax=310 (unshare) ebx=NEWUSER
memory = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
memory.write(code)
address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
pid = os.fork()
if pid == 0:
    ctypes.CFUNCTYPE(ctypes.c_long)(address)()
    os._exit(7)
print('status', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.mark.slow
def test_calls_of_another_architecture_kill_the_caller():
    output, run = run_cell(INT80, "bubblewrap")
    assert "status -31" in output, (run.ended, output, run.stderr_tail)   # SIGSYS


@pytest.mark.slow
@pytest.mark.parametrize("mode", ("bubblewrap", "user"))
def test_pytorch_numpy_and_matplotlib_work_under_the_filter(mode):
    code = """
import numpy, torch, matplotlib.pyplot as plt, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
x = torch.rand(8, 1, 28, 28)
program = torch.export.export(model, (x,))
loss = nn.CrossEntropyLoss()(model(x), torch.zeros(8, dtype=torch.long))
loss.backward()
torch.optim.SGD(model.parameters(), lr=0.1).step()
batches = sum(1 for _ in DataLoader(TensorDataset(x), batch_size=4, num_workers=2))
plt.plot(numpy.arange(3)); plt.savefig('plot.png')
print('fine', len(program.graph.nodes) > 0, batches)
"""
    output, run = run_cell(code, mode)
    assert output.strip() == "fine True 2", output + run.stderr_tail


def test_without_the_filter_the_harness_refuses_to_run():
    """A harness whose filter cannot be installed (no libseccomp on the machine: here its soname points
    nowhere) ends before any student code, saying what to install."""
    sandbox = str(PROJECT / "autograder" / "sandbox")
    code = (f"import sys; sys.path.insert(0, {sandbox!r})\n"
            "import harness.libseccomp; harness.libseccomp.SONAME = 'libseccomp-absent.so.9'\n"
            "from harness.syscalls import install_or_exit\ninstall_or_exit()\nprint('student code ran')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == syscalls.UNFILTERED_EXIT and "student code ran" not in result.stdout
    assert "refused to run student code without its system-call filter: libseccomp could not be loaded " \
           "(install libseccomp2): libseccomp-absent.so.9" in result.stderr


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("status", "words"), [(126, "bwrap: cannot exec python"),
                                               (syscalls.UNFILTERED_EXIT, "setpriv: failed"),
                                               (SETUP_EXIT, "the warm sandbox could not set up a child")])
def test_student_code_cannot_pose_as_a_sandbox_that_failed_to_start(mode, status, words):
    """The statuses and words by which the sandbox reports that it could not start count only before the
    harness says its filter is in place: after it, they are the submission's own crash, graded as such
    (a grader error would cost the course staff a rerun, and a warm sandbox a cold one)."""
    code = f"import os, sys\nsys.stderr.write({words!r} + '\\n'); sys.stderr.flush()\nos._exit({status})"
    _, run = run_cell(code, mode)
    assert (run.returncode, run.ended) == (status, Ending.CRASHED), run.stderr_tail
