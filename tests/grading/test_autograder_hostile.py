"""Submissions that hit the limits: each gets the score its code earns, the grader survives, the run is
bounded. (Attacks on the boundary itself are in test_sandbox_hostile.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from submissions import RELEASE, SOLUTION, edited

pytestmark = pytest.mark.slow

LOOP_POINTS = 25  # the six train_model checks


def grade(path, tmp_path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "autograder", "grade", str(path), "--json", str(tmp_path / "out.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout
    results = json.loads((tmp_path / "out.json").read_text())
    return results, result.stdout, time.monotonic() - started


def failed_names(results):
    return {t["name"] for t in results["tests"] if t["status"] == "failed"}


TRAIN_START = '    device = next(model.parameters()).device\n'


def test_infinite_loop_in_forward_costs_only_that_model(tmp_path):
    path = edited(SOLUTION, tmp_path, "loop_forever", {"fc_class": [("    def forward(self, x):\n", "    def forward(self, x):\n        while True:\n            pass\n")]})
    results, out, seconds = grade(path, tmp_path)
    # every FC check reads its graph, and the optimizer is judged on the graph's parameters
    assert failed_names(results) == {"FC has the right number of parameters", "FC: layer output shapes",
                                     "FC: computes the intended function", "FC: test accuracy after the grader's training",
                                     "opt is SGD with learning rate 0.1 over model_fc's parameters"}
    assert results["score"] == 100 - 23 and "timed out" in out
    assert seconds < 150


def test_exiting_the_interpreter_costs_only_what_was_not_observed(tmp_path):
    path = edited(SOLUTION, tmp_path, "exit", {"train_model": [(TRAIN_START, TRAIN_START.replace("device = ", "import os; os._exit(0); device = "))]})
    results, out, _ = grade(path, tmp_path)
    assert results["score"] == 100 - LOOP_POINTS
    assert all(name.startswith("train_model") for name in failed_names(results))
    assert "exited early" in out


def test_memory_bomb_is_stopped(tmp_path):
    bomb = "hoard = []\n    while True:\n        hoard.append(bytearray(50_000_000))\n    "
    path = edited(SOLUTION, tmp_path, "bomb", {"train_model": [(TRAIN_START, TRAIN_START.replace("    device = ", "    " + bomb + "device = "))]})
    results, out, seconds = grade(path, tmp_path)
    assert results["score"] == 100 - LOOP_POINTS and "memory limit" in out
    assert seconds < 150


def test_flooding_output_is_dropped_not_fatal(tmp_path):
    path = edited(SOLUTION, tmp_path, "flood", {"fc_params": [("### END SOLUTION", "print('x' * 100_000_000)\n### END SOLUTION")]})
    results, out, _ = grade(path, tmp_path)
    assert results["score"] == 100
    assert "characters of printed output were dropped" in out


def test_monkeypatching_torch_does_not_raise_the_score(tmp_path):
    patch = ("torch.Tensor.argmax = lambda self, *a, **k: torch.zeros(self.shape[0], dtype=torch.long)\n"
             "torch.equal = lambda *a, **k: True\ntorch.allclose = lambda *a, **k: True\n"
             "nn.functional.cross_entropy = lambda *a, **k: torch.tensor(0.0, requires_grad=True)\n")
    path = edited(SOLUTION, tmp_path, "patched", {
        "fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x)")],  # a real bug: no ReLU after fc2
        "loss_opt": [("### END SOLUTION", patch + "### END SOLUTION")],
    })
    results, _, _ = grade(path, tmp_path)
    assert "FC: computes the intended function" in failed_names(results)
    assert results["score"] <= 100 - 6


def test_forged_results_files_are_ignored(tmp_path):
    forged = json.dumps({"score": 100, "tests": []})
    forge = (
        "import os, pathlib\n"
        f"for place in ['results.json', '../results.json', '/tmp/results.json', 'report.json', '{tmp_path / 'out.json'}']:\n"
        "    try:\n"
        f"        pathlib.Path(place).write_text({forged!r})\n"
        "    except OSError:\n"
        "        pass\n"
        f"print({forged!r})\n"
    )
    path = edited(RELEASE, tmp_path, "forger", {"fc_params": [("raise NotImplementedError()", forge)]})
    results, _, _ = grade(path, tmp_path)
    assert results["score"] == 0


def test_a_graph_that_carries_code_for_the_grader_is_refused(tmp_path):
    """The exporter rebound so that every graph it sends carries guard code, which torch.export's own
    loader would compile and run in the process that loads it: here, the grader's (the marker lies
    outside the sandbox, where only the grader could write it)."""
    marker = tmp_path / "grader-ran-it"
    forge = (
        "import dataclasses, json, sys\n"
        "_exports = sys.modules['harness.exports']\n"
        "_real = _exports._SERIALIZE\n"
        "def _with_guards(program):\n"
        "    artifact = _real(program)\n"
        "    graph = json.loads(artifact.exported_program)\n"
        f"    graph['guards_code'] = [\"open({str(marker)!r}, 'w').close() is None\"]\n"
        "    return dataclasses.replace(artifact, exported_program=json.dumps(graph).encode())\n"
        "_exports._SERIALIZE = _with_guards\n"
    )
    path = edited(SOLUTION, tmp_path, "guards", {"fc_class": [("class FC(nn.Module):", forge + "class FC(nn.Module):")]})
    results, _, _ = grade(path, tmp_path)
    assert not marker.exists()
    accuracy = next(t for t in results["tests"] if t["name"] == "FC: test accuracy after the grader's training")
    assert accuracy["status"] == "failed" and "Python code of its own" in accuracy["output"], accuracy
    assert results["score"] < 100


def test_student_code_sees_neither_data_nor_grader(tmp_path):
    spy = (
        "import os, sys\n"
        "seen = {'cwd': sorted(n for n in os.listdir('.') if not n.startswith('.')),  # not the caches of imports\n"
        "        'mnist': os.environ.get('MNIST_ROOT'),\n"
        "        'grader_env': sorted(k for k in os.environ if 'GRADE' in k or 'MNIST' in k),\n"
        "        'grader_importable': any('autograder' in str(p) for p in sys.path)}\n"
        "raise RuntimeError(f'SPY {seen}')\n"
    )
    path = edited(RELEASE, tmp_path, "spy", {"fc_params": [("raise NotImplementedError()", spy)]})
    results, out, _ = grade(path, tmp_path)
    line = next(text for text in out.splitlines() if "SPY" in text)
    assert "'cwd': []" in line  # the harness and helpers lie in a read-only folder of their own
    assert "'mnist': '/nonexistent'" in line and "'grader_importable': False" in line
    assert results["score"] == 0


@pytest.mark.parametrize("crash, how", [
    ("import os; os.write(2, b'my own last words\\n'); os._exit(3); ", "exit status 3"),
    ("import os, signal; os.write(2, b'my own last words\\n'); os.kill(os.getpid(), signal.SIGSEGV); ", "killed by SIGSEGV"),
])
def test_a_crash_says_how_it_ended_and_what_it_printed_last(tmp_path, crash, how):
    path = edited(SOLUTION, tmp_path, "crash", {"train_model": [(TRAIN_START, TRAIN_START.replace("device = ", crash + "device = "))]})
    results, out, _ = grade(path, tmp_path)
    assert results["score"] == 100 - LOOP_POINTS
    assert "crashed in the step after 'optimizer' (" in out and f"{how}): the checks" in out, out
    last_words = next(line for line in out.splitlines() if "note: its last words: " in line)
    assert last_words.endswith("my own last words"), last_words


def test_a_graph_sent_again_after_the_exports_is_judged_as_sent_last(tmp_path):
    """The grader loads each graph while the sandbox still runs (``autograder.head_start``); student code
    that runs after the exports (``train_model``, in the probes) sends the FC's graph again, now without
    its activations. The checks judge the graph sent last, as they would have without the early load."""
    resend = (
        "    import sys as _sys\n"
        "    _plain = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.Linear(512, 256), nn.Linear(256, 128),\n"
        "                           nn.Linear(128, 10))\n"
        "    _sys.modules['harness.exports'].export_model(_plain, [784], 100, 'fc', 'model_fc')\n"
    )
    path = edited(SOLUTION, tmp_path, "resend", {"train_model": [(TRAIN_START, TRAIN_START + resend)]})
    results, _, _ = grade(path, tmp_path)
    assert failed_names(results) == {"FC: computes the intended function"}, failed_names(results)
