"""What student code finds around it in the sandbox: no GPU, no grader environment, and a clear word
when it imports what grading does not offer."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT
from submissions import RELEASE, edited


def test_the_sandbox_sees_no_gpu_and_no_grader_environment(tmp_path):
    probe = ("import os, torch\nraise RuntimeError(f\"SEEN cuda={torch.cuda.is_available()} "
             "secret={'GRADER_SECRET' in os.environ} gpus={os.environ.get('CUDA_VISIBLE_DEVICES')!r} "
             "data={os.environ.get('MNIST_ROOT')}\")")
    path = edited(RELEASE, tmp_path, "probe", {"fc_params": [("raise NotImplementedError()", probe)]})
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="0", GRADER_SECRET="s3cret")
    result = subprocess.run([sys.executable, "-m", "autograder", "grade", str(path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    line = next(line for line in result.stdout.splitlines() if "SEEN" in line)
    assert "cuda=False secret=False gpus='' data=/nonexistent" in line


def test_an_unavailable_module_is_named_with_what_is_available(tmp_path):
    path = edited(RELEASE, tmp_path, "imports", {"fc_params": [("raise NotImplementedError()", "import sklearn")]})
    result = subprocess.run([sys.executable, "-m", "autograder", "grade", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    note = next(line for line in result.stdout.splitlines() if "cell fc_params" in line)
    assert "the module 'sklearn' is not available when grading" in note and "torch" in note


