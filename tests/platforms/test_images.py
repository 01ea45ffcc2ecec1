"""Both grading images built in a real container engine (podman) on a pristine Debian 12 base, and run
as their platforms run them (``scripts/grading_images.py`` says how): the solution, the untouched
release and a hostile submission, each results file checked against its platform's documented format.

Needs root, podman, runc and mmdebstrap (CI installs them and runs it). The engine's cache is used: it
reuses only layers built earlier from the same inputs. Both images install the packages in a layer of
their own, so a changed grader rebuilds in seconds and the test takes some 3 minutes; a change to the
requirements or install.sh, or a new machine, builds the packages again (some 11 minutes for both).
GRADING_IMAGES_FRESH=1 builds from nothing, base included, and Gradescope's image without that layer."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from submissions import RELEASE, SOLUTION, check_gradescope_schema, check_prairielearn_results, edited

sys.path.insert(0, str(ROOT / "scripts"))
import grading_images as images  # noqa: E402

pytestmark = pytest.mark.slow

LOOP_POINTS = 25      # the six train_model checks
TRAIN_START = "    device = next(model.parameters()).device\n"
FORGED = {"score": 100, "gradable": True, "tests": [], "message": "forged"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """The question folder and a scratch folder, once both images are built."""
    if missing := images.missing_tools():
        pytest.fail(f"building the grading images needs {', '.join(missing)}: apt-get install podman runc mmdebstrap",
                    pytrace=False)
    scratch = tmp_path_factory.mktemp("images")
    try:
        question = images.build_all(scratch, Path(os.environ["MNIST_ROOT"]),
                                     no_cache=os.environ.get("GRADING_IMAGES_FRESH") == "1")
    except images.ImageError as error:
        pytest.fail(str(error), pytrace=False)
    return question, scratch


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """Writes forged results wherever either platform keeps them, then hoards memory until it is stopped."""
    forge = (f"import pathlib\n    for place in ('/grade/results/results.json', '/autograder/results/results.json'):\n"
             f"        try:\n            pathlib.Path(place).write_text({json.dumps(FORGED)!r})\n"
             "        except OSError:\n            pass\n"
             "    hoard = []\n    while True:\n        hoard.append(bytearray(50_000_000))\n")
    return edited(SOLUTION, tmp_path_factory.mktemp("hostile"), "cnn",
                  {"train_model": [(TRAIN_START, TRAIN_START.replace("    device = ", "    " + forge + "    device = "))]})


def _prairielearn(built, notebook: Path) -> tuple[dict, str]:
    question, scratch = built
    graded = images.grade_prairielearn(question, {"cnn.ipynb": notebook}, scratch)
    path = scratch / "checked.json"
    path.write_text(json.dumps(graded.results))
    return check_prairielearn_results(path), graded.log


def _gradescope(built, notebook: Path, limits: images.Limits = images.GRADESCOPE_LARGER) -> tuple[dict, str]:
    """Graded in the next size up from Gradescope's default container: the CUDA build of PyTorch that this
    machine has (no CPU wheel of the pinned release is at hand offline) does not fit 768 MB."""
    graded = images.grade_gradescope({"cnn.ipynb": notebook}, built[1], limits=limits)
    check_gradescope_schema(graded.results)
    return graded.results, graded.log


def test_prairielearn_image_grades_the_solution_to_full_score(built):
    results, log = _prairielearn(built, SOLUTION)
    assert results["score"] == 1, log[-3000:]
    assert "isolation: separate user" in results["output"]     # the sandbox containers allow


def test_prairielearn_image_grades_the_release_to_zero(built):
    results, log = _prairielearn(built, RELEASE)
    assert results["gradable"] is True and results["score"] == 0, log[-3000:]


def test_prairielearn_image_survives_a_hostile_submission(built, hostile):
    results, log = _prairielearn(built, hostile)
    assert results.get("message") != FORGED["message"] and results["tests"], log[-3000:]
    assert results["score"] == pytest.approx((100 - LOOP_POINTS) / 100), log[-3000:]
    assert "memory limit" in results["output"]


def test_gradescope_image_grades_the_solution_to_full_score(built):
    results, log = _gradescope(built, SOLUTION)
    assert results["score"] == 100, log[-3000:]
    assert results["extra_data"]["provenance"]["isolation"]["mode"] == "user"


def test_gradescope_image_grades_the_release_to_zero(built):
    results, log = _gradescope(built, RELEASE)
    assert results["score"] == 0 and results["tests"], log[-3000:]


def test_gradescope_image_survives_a_hostile_submission(built, hostile):
    results, log = _gradescope(built, hostile)
    assert results.get("output") != FORGED["message"] and results["tests"], log[-3000:]
    assert results["score"] == 100 - LOOP_POINTS, log[-3000:]
    assert "memory limit" in json.dumps(results)


def test_gradescope_default_container_leaves_results_whatever_happens(built):
    """768 MB: the solution's full score, or (a grader too big for the container, as with the CUDA build)
    the fault results that say it is not the student's fault; never Gradescope's bare failure."""
    results, log = _gradescope(built, SOLUTION, images.GRADESCOPE_LIMITS)
    assert results["score"] == 100 or "through no fault of your submission" in results["output"], log[-3000:]
