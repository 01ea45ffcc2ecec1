"""A class with hostile classmates, graded in one batch under each isolation mode.

Every attacker gets the score its code earns on its merits; afterwards no file outside the sandboxes
changed, no sandbox process is alive, and the honest students' results are exactly the solution's.
The attacks are written as a student who has read this repository would write them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from autograder.sandbox.isolation import SANDBOX_UIDS, IsolationUnavailable, choose_mode, world_writable_folders
from conftest import ROOT, SHARED_MNIST
from submissions import RELEASE, SOLUTION, edited

pytestmark = pytest.mark.slow

HONEST = ("alice", "bob")
FC_GRAPH_POINTS = 4 + 4 + 6 + 6 + 3  # every check that reads FC's graph, the optimizer's included
LENET_GRAPH_POINTS = 4 + 4 + 6 + 6  # LeNet's parameter count, shapes, function and accuracy


def blank(attack: str):
    """The release with ``attack`` as its first answer."""
    return RELEASE, {"fc_params": [("raise NotImplementedError()", attack)]}


def after_fc_params(attack: str):
    """The solution with ``attack`` appended to its first answer cell."""
    return SOLUTION, {"fc_params": [("### END SOLUTION", attack + "\n### END SOLUTION")]}


def attacks(project: Path, course: Path, mnist: Path, port: int) -> dict[str, tuple]:
    """Each attacker: (base notebook, edits, expected score)."""
    secrets = [str(mnist / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"), str(mnist / "MNIST" / "raw"),
               str(course / "submitted" / "alice" / "cnn" / "cnn.ipynb"), str(course / "submitted"),
               str(course / "autograded")]
    return {
        "writer": (*blank(f"""
import os, pathlib
targets = ['{project}/autograder/checks/conftest.py', '{project}/autograder/reference.py']
targets += [f'/proc/{{p}}/cwd/autograder/checks/conftest.py' for p in os.listdir('/proc') if p.isdigit()]
for target in targets:
    try:
        with open(target, 'a') as handle:
            handle.write('import pytest\\n@pytest.hookimpl(tryfirst=True)\\ndef pytest_runtest_call(item): return True\\n')
    except OSError:
        pass
"""), 0),
        "forger": (*blank(f"""
import json, os, time
forged = json.dumps({{'score': 100, 'tests': [], 'extra_data': {{}}}})
for student in ['alice', 'bob', 'forger']:
    folder = '{course}/autograded/' + student + '/cnn'
    try:
        os.makedirs(folder, exist_ok=True)
        with open(folder + '/results.json', 'w') as handle:
            handle.write(forged)
        os.utime(folder + '/results.json', (time.time() + 10**6, time.time() + 10**6))
    except OSError:
        pass
"""), 0),
        "spy": (*blank(f"""
import os
found = []
for target in {secrets!r}:
    try:
        os.listdir(target) if os.path.isdir(target) else open(target, 'rb').read(10)
        found.append(target)
    except OSError:
        pass
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        if b'{mnist}' in open(f'/proc/{{pid}}/environ', 'rb').read():
            found.append('environ of ' + pid)
    except OSError:
        pass
    try:
        if 'autograder' in os.listdir(f'/proc/{{pid}}/cwd'):
            found.append('cwd of ' + pid)
    except OSError:
        pass
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:   # paths in other processes' command lines
    try:
        words = open(f'/proc/{{pid}}/cmdline', 'rb').read().decode(errors='replace').split('\\0')
    except OSError:
        continue
    for word in words:
        for guess in (word + '/source/cnn/cnn.ipynb', word + '/autograder/reference.py',
                      '{project}/source/cnn/cnn.ipynb'):
            try:
                open(guess, 'rb').read(10)
                found.append(guess) if os.path.isfile(guess) else None
            except OSError:
                pass
import sys
sys.path[:0] = ['{project}', os.path.dirname(os.path.dirname(os.getcwd()))]
try:
    import autograder.reference
    found.append('autograder.reference')
except (ImportError, OSError):   # not on the path, or not readable: either way out of reach
    pass
raise RuntimeError(f'FOUND {{found}}')
"""), 0),
        "network": (*blank(f"""
import socket
found = []
for host in ['127.0.0.1', 'localhost']:
    try:
        socket.create_connection((host, {port}), timeout=2).close()
        found.append(host)
    except OSError:
        pass
raise RuntimeError(f'FOUND {{found}}')
"""), 0),
        "daemon": (*after_fc_params("""
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
segment = libc.shmget(0x5eed0 + os.getuid() % 64, 1 << 20, 0o1600)   # IPC_CREAT | rw: System V memory left behind
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for tick in range(6000):
            for place in ('/tmp', '/dev/shm', '/var/tmp', '/run/lock'):
                try:
                    open(f'{place}/daemon-marker-{os.getpid()}', 'w').write(str(tick))
                except OSError:
                    pass
            time.sleep(0.05)
    os._exit(0)
os.wait()
"""), 100),
        "killer": (*after_fc_params("""
import os, signal
for target in (os.getppid(), 1, -1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
"""), 100),
        "buffers": (SOLUTION, {"fc_class": [
            ("        self.fc4 = nn.Linear(128, 10)\n", "        self.fc4 = nn.Linear(128, 10)\n"
             "        self.register_buffer('answers', torch.zeros(2000, 10))\n"),
            ("        return self.fc4(x)\n", "        return self.fc4(x) + 0 * self.answers[:1]\n")]}, 100 - FC_GRAPH_POINTS),
        "bomb": (SOLUTION, {"lenet_class": [
            ("        x = self.pool(F.relu(self.conv1(x)))\n",
             "        x = x.unsqueeze(1).expand(-1, 400, -1, -1, -1).mean(1)\n"
             "        x = self.pool(F.relu(self.conv1(x)))\n")]}, 100 - LENET_GRAPH_POINTS),
        "rebinder": (SOLUTION, {
            "fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x)")],  # a real bug, worth the function check
            "loss_opt": [("### END SOLUTION", """
class _Correct(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 512), nn.Linear(512, 256)
        self.fc3, self.fc4 = nn.Linear(256, 128), nn.Linear(128, 10)
    def forward(self, x):
        return self.fc4(F.relu(self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))))
_export = torch.export.export
def _fake(model, args, **kwargs):
    if isinstance(model, FC):
        honest = _Correct()
        honest.load_state_dict(model.state_dict())
        model = honest.eval()
    return _export(model, args, **kwargs)
torch.export.export = _fake
### END SOLUTION""")]}, 100 - 6),
        "chain": (*blank("""
import os, subprocess, time
script = 'if [ "$D" -gt 0 ]; then D=$((D-1)) /bin/sh -c "$S"; else sleep 600; fi'
try:
    subprocess.Popen(['/bin/sh', '-c', script], env={'S': script, 'D': '40', 'PATH': '/usr/bin:/bin'})
except OSError:
    pass
started = time.time()
while time.time() - started < 400:
    try:
        time.sleep(1)
    except BaseException:
        pass
"""), 0),
        "memfd": (*blank("""
import os
held = []
for index in range(80):   # memory files are refused; files in RAM-backed /dev/shm, unlinked but held, count
    try:
        fd = os.memfd_create('hoard')
    except OSError:
        try:
            fd = os.open(f'/dev/shm/hoard-{os.getpid()}-{index}', os.O_RDWR | os.O_CREAT, 0o600)
            os.unlink(f'/dev/shm/hoard-{os.getpid()}-{index}')
            os.write(fd, b'x' * (60 * 1024 * 1024))
        except OSError:
            break
    held.append(fd)
import time
time.sleep(400)
"""), 0),
        "garbler": (*after_fc_params("""
import os
os.write(3, b'{"name": "report.json", "size": 99999999999}\\n' + b'[' * 100000)
"""), 3 * 2),  # nothing comes back after the garbage; the answers are read from the notebook itself
    }


def project_snapshot() -> dict[str, str]:
    """Every file of the project (the venv and caches aside) with a digest of its bytes."""
    found = {}
    for directory, folders, files in os.walk(ROOT):
        folders[:] = [f for f in folders if f not in (".venv", ".git", "__pycache__", ".pytest_cache")]
        for name in files:
            path = Path(directory, name)
            if path.is_file():
                found[str(path.relative_to(ROOT))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def leftovers() -> dict[str, list]:
    """Processes of sandbox uids, files they or the grader left in the world-writable folders, and
    System V IPC objects of sandbox uids."""
    processes = []
    for entry in Path("/proc").iterdir():
        try:
            uids = next(row for row in (entry / "status").read_text().splitlines() if row.startswith("Uid:")).split()[1:]
        except (OSError, StopIteration):
            continue
        if any(int(uid) in SANDBOX_UIDS for uid in uids):
            processes.append(entry.name)
    files = []
    for kind in ("shm", "sem", "msg"):
        rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        header = rows[0].split()
        files += [f"{kind} {row.split()[1]}" for row in rows[1:]
                  if int(row.split()[header.index("uid")]) in SANDBOX_UIDS or int(row.split()[header.index("cuid")]) in SANDBOX_UIDS]
    for place in world_writable_folders():
        for entry in Path(place).iterdir():
            try:
                owner = entry.lstat().st_uid
            except OSError:
                continue
            if owner in SANDBOX_UIDS or entry.name.startswith(("daemon-marker", "grade-sandbox-", "grade-received-", "grade-zygote-")):
                files.append(str(entry))
    return {"processes": processes, "files": files}


@pytest.fixture(scope="module", params=["bubblewrap", "user"])
def graded_class(request, tmp_path_factory):
    mode = request.param
    try:
        choose_mode(mode)
    except IsolationUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide the {mode} sandbox: {error}")
        pytest.skip(f"{mode} isolation is not available here: {error}")
    course = tmp_path_factory.mktemp(f"course-{mode}")
    mnist = tmp_path_factory.mktemp(f"mnist-{mode}")  # private (mode 700), as the fallback requires
    shutil.copytree(Path(os.environ.get("MNIST_ROOT", SHARED_MNIST)) / "MNIST", mnist / "MNIST")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Thread(target=lambda: [server.accept() for _ in range(10)], daemon=True).start()
    scratch = tmp_path_factory.mktemp(f"made-{mode}")
    plan = attacks(ROOT, course, mnist, port)
    notebooks = {name: SOLUTION for name in HONEST}
    notebooks.update({name: edited(base, scratch, name, edits) for name, (base, edits, _) in plan.items()})
    for student, source in notebooks.items():
        folder = course / "submitted" / student / "cnn"
        folder.mkdir(parents=True)
        shutil.copy(source, folder / "cnn.ipynb")
    before, temporary_before = project_snapshot(), leftovers()
    env = dict(os.environ, MNIST_ROOT=str(mnist))

    def run_batch():
        return subprocess.run([sys.executable, "-m", "autograder", "batch", str(course), "--jobs", "2",
                               "--isolation", mode], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)

    first = run_batch()
    after, temporary_after = project_snapshot(), leftovers()
    results = {s: json.loads((course / "autograded" / s / "cnn" / "results.json").read_text()) for s in notebooks}
    second = run_batch()  # the rerun must trust only genuine earlier results
    rerun = {s: json.loads((course / "autograded" / s / "cnn" / "results.json").read_text()) for s in notebooks}
    server.close()
    return {"mode": mode, "plan": plan, "first": first, "second": second, "results": results, "rerun": rerun,
            "changed": {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)},
            "leftovers": {k: sorted(set(v) - set(temporary_before[k])) for k, v in temporary_after.items()}}


def test_batch_completes(graded_class):
    assert graded_class["first"].returncode == 0, graded_class["first"].stdout + graded_class["first"].stderr
    assert "Traceback" not in graded_class["first"].stderr
    assert graded_class["second"].returncode == 0


def test_attackers_earn_only_their_merits(graded_class):
    scores = {name: graded_class["results"][name]["score"] for name in graded_class["plan"]}
    expected = {name: score for name, (_, _, score) in graded_class["plan"].items()}
    assert scores == expected


def test_honest_students_are_untouched(graded_class):
    for student in HONEST:
        for results in (graded_class["results"][student], graded_class["rerun"][student]):
            assert results["score"] == 100 and all(t["status"] == "passed" for t in results["tests"])
            assert results["extra_data"]["provenance"]["isolation"]["mode"] == graded_class["mode"]


def test_rerun_keeps_every_grade(graded_class):
    assert {s: r["score"] for s, r in graded_class["rerun"].items()} == {s: r["score"] for s, r in graded_class["results"].items()}


def test_nothing_outside_the_sandbox_changed(graded_class):
    assert graded_class["changed"] == set()
    assert graded_class["leftovers"] == {"processes": [], "files": []}


def test_spies_find_nothing(graded_class):
    for name in ("spy", "network"):
        if name in graded_class["plan"]:
            output = json.dumps(graded_class["results"][name])
            assert re.search(r"FOUND \[\]", output), output[:2000]


def test_broken_channel_is_a_verdict_with_its_reason(graded_class):
    notes = graded_class["results"]["garbler"]["output"]
    assert "stopped reading the sandbox's output" in notes


def test_limits_hold_against_process_chains_and_memory_files(graded_class):
    chain, memfd = graded_class["results"]["chain"], graded_class["results"]["memfd"]
    assert "timed out" in chain["output"] and chain["execution_time"] < 200
    # bubblewrap's /dev/shm is a 64 MB tmpfs: the hoard stops there and the sleep runs out of time
    assert ("timed out" if graded_class["mode"] == "bubblewrap" else "memory limit") in memfd["output"]
    assert memfd["execution_time"] < 200
