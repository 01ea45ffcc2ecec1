"""Write a PrairieLearn question folder: ``info.json`` (external grading enabled), ``question.html`` (the
upload of ``cnn.ipynb`` and the grader's results), ``tests/`` (the grader, which PrairieLearn mounts at
``/grade/tests``) and the ``Dockerfile`` of the grader image."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from pathlib import Path

from ..paths import RELEASE_NOTEBOOK
from ..platform.files import grader_files
from ..results import write_text_atomically

HERE = Path(__file__).parent
ENTRYPOINT = "run_grader"
DEFAULT_IMAGE = "mnist-cnn-grader"
DEFAULT_TIMEOUT = 300     # the solution takes about 15 s in PrairieLearn's 0.9 CPU; the rest is for the worst case
MAX_TIMEOUT = 600         # PrairieLearn's own ceiling
IMAGE_MNIST = "/opt/mnist"

QUESTION_HTML = f"""<pl-question-panel>
  <p>Upload your completed notebook <code>{RELEASE_NOTEBOOK.name}</code>. The hidden autograder runs your answer
  cells in a sandbox, checks your models, your training loop and your answers, and trains your three networks
  for a short, fixed budget; it takes a minute or two. Every lost point comes with its reason.</p>
  <pl-file-upload file-names="{RELEASE_NOTEBOOK.name}"></pl-file-upload>
</pl-question-panel>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""

DOCKERFILE = f"""# The grader image of this question: Ubuntu with the grading dependencies (PyTorch's CPU wheels) and
# MNIST built in, so that grading needs no network; the grader itself comes from tests/ at each grading.
#   docker build -t IMAGE . && docker push IMAGE      (IMAGE: the name in info.json)
# Without the internet: put MNIST's four .gz files in mnist/ beside this file, and pass
#   --build-arg TORCH_INDEX= --build-arg PIP_INDEX_URL=YOUR_MIRROR   (or PIP_FIND_LINKS=a wheel folder)
# BASE replaces the base image (any Debian or Ubuntu with Python 3.10 or newer, or none yet).
ARG BASE=ubuntu:24.04
FROM ${{BASE}}
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG PIP_INDEX_URL= PIP_EXTRA_INDEX_URL= PIP_FIND_LINKS= PIP_CERT= PIP_TRUSTED_HOST=
ENV MNIST_ROOT={IMAGE_MNIST}
# The packages first, in a layer that changes only with requirements-grading.txt: a new grader rebuilds in seconds.
COPY tests/requirements-grading.txt tests/autograder/platform/install.sh /tmp/packages/
RUN cd /tmp/packages && bash install.sh --packages-only && rm -rf /tmp/packages
COPY . /tmp/build
RUN cd /tmp/build/tests && if [ -d ../mnist ]; then export MNIST_FROM=/tmp/build/mnist; fi \\
    && bash autograder/platform/install.sh --sandbox-user && rm -rf /tmp/build
"""


class QuestionError(ValueError):
    """An option the question cannot have; the message says which and why."""


def info(question_uuid: str, image: str, timeout: int) -> dict:
    return {
        "uuid": question_uuid,
        "title": "Handwritten digits with PyTorch (autograded notebook)",
        "topic": "Neural networks",
        "tags": ["pytorch", "mnist", "notebook"],
        "type": "v3",
        "singleVariant": True,
        "gradingMethod": "External",
        "externalGradingOptions": {
            "enabled": True,
            "image": image,
            "entrypoint": f"/grade/tests/{ENTRYPOINT}",
            "timeout": timeout,
            "enableNetworking": False,
        },
    }


def _existing_uuid(folder: Path) -> str:
    """The uuid of a question written here before: PrairieLearn knows a question by it, so a rebuild keeps it."""
    try:
        return str(uuid.UUID(json.loads((folder / "info.json").read_text())["uuid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return str(uuid.uuid4())


def _replace_tests(folder: Path) -> None:
    """Write ``folder/tests`` afresh: built beside it, then put in the place of the old one."""
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".tests."))
    try:
        staging.chmod(0o755)
        for name, path in {**grader_files("prairielearn"), ENTRYPOINT: HERE / ENTRYPOINT}.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, staging / name)   # keeps the mode bits: the scripts stay executable
        shutil.rmtree(folder / "tests", ignore_errors=True)
        staging.rename(folder / "tests")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_question(folder: Path, image: str, timeout: int) -> Path:
    """Write (or rewrite) the question in ``folder``, keeping its uuid; ``tests/`` is replaced whole."""
    if not 1 <= timeout <= MAX_TIMEOUT:
        raise QuestionError(f"--timeout must be 1 to {MAX_TIMEOUT} seconds (PrairieLearn's limit), not {timeout}")
    if not image or any(c.isspace() for c in image):
        raise QuestionError(f"--image must be an image name such as user/{DEFAULT_IMAGE}, not {image!r}")
    folder.mkdir(parents=True, exist_ok=True)
    question_uuid = _existing_uuid(folder)
    _replace_tests(folder)
    texts = {"info.json": json.dumps(info(question_uuid, image, timeout), indent=2) + "\n",
             "question.html": QUESTION_HTML, "Dockerfile": DOCKERFILE}
    for name, text in texts.items():
        write_text_atomically(folder / name, text)
        (folder / name).chmod(0o644)   # course files, not private ones
    return folder
