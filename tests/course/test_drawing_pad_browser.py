"""The drawing pad in a real browser: JupyterLab from this environment, headless Chromium driven by
Selenium, a digit from the MNIST test set drawn on the canvas with mouse drags.

The browser test is marked ``slow`` and skips, saying why, when Chromium, its driver or Selenium is
missing (on Debian: ``apt-get install chromium chromium-driver``). A companion test replays the same
strokes on a ``DrawingPad`` without a browser, so a wrong choice of digit shows up without Chromium.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import nbformat
import numpy as np
import pytest

from browser import chromium_paths, headless_chromium
from conftest import ROOT
from quick_model import TRAIN_MODEL, train_quick_model

SHOW_PAD = "from helpers import DrawingPad\npad = DrawingPad((28, 28), quick_model)\npad"

TEST_IMAGE = 0       # a 7 in MNIST's test set
SHIFT = (-3, -3)     # drawn 3 pixels up and 3 to the left of where MNIST has it: the pad must re-centre it
GRID, SCALE = 28, 10  # the pad's grid and screen pixels per grid cell (DrawingPad's defaults)
START_MESSAGE = "Draw a digit, press blur, then predict."
TIMEOUT = 180        # seconds for anything that waits on the kernel (start-up, training, a reply)


def test_image_and_label() -> tuple[np.ndarray, int]:
    from helpers import load_mnist_pixels, pixels_to_float

    images, labels = load_mnist_pixels(train=False)
    return pixels_to_float(images[TEST_IMAGE, 0]).numpy().astype(np.float64), int(labels[TEST_IMAGE])


test_image_and_label.__test__ = False  # a helper, not a test


def ink_runs(image: np.ndarray, threshold: float = 0.5) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """The digit as horizontal strokes: one (start, end) segment in grid coordinates (x, y) per run of
    pixels brighter than ``threshold`` in a row, moved by ``SHIFT`` (rows, columns)."""
    runs = []
    for row in range(image.shape[0]):
        inked = np.flatnonzero(image[row] > threshold)
        if not len(inked):
            continue
        breaks = np.flatnonzero(np.diff(inked) > 1)
        for first, last in zip(np.r_[inked[0], inked[breaks + 1]], np.r_[inked[breaks], inked[-1]], strict=True):
            y = row + SHIFT[0] + 0.5
            runs.append(((first + SHIFT[1] + 0.5, y), (last + SHIFT[1] + 0.5, y)))
    return runs


def test_the_strokes_the_browser_draws_are_read_correctly_without_a_browser():
    """Replays the browser test's strokes on a DrawingPad: the same model must read the digit, sure of it."""
    from helpers import DrawingPad

    image, label = test_image_and_label()
    pad = DrawingPad((GRID, GRID), train_quick_model())
    for start, end in ink_runs(image):
        pad.stroke([start, end])
    pad.blur()
    digit, probabilities = pad.predict()
    assert digit == label and probabilities[label] > 0.9, (digit, probabilities.round(3))


# ---- the real browser ----
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api(base: str, token: str, path: str, method: str = "GET"):
    request = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


@pytest.fixture(scope="module")
def chromium():
    """Paths of Chromium and its driver; skips (before any server starts) when they or Selenium are missing."""
    pytest.importorskip("selenium", reason="the browser test needs selenium (pip install -r requirements.txt)")
    return chromium_paths()


@pytest.fixture(scope="module")
def jupyterlab(chromium, tmp_path_factory):
    """JupyterLab on a free localhost port, serving a folder with a notebook that shows a DrawingPad."""
    folder = tmp_path_factory.mktemp("lab")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(TRAIN_MODEL.strip()),
                                               nbformat.v4.new_code_cell(SHOW_PAD)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "pad.ipynb")
    for name in ("config", "runtime"):
        (folder / f".jupyter-{name}").mkdir()
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               JUPYTER_CONFIG_DIR=str(folder / ".jupyter-config"),
               JUPYTER_RUNTIME_DIR=str(folder / ".jupyter-runtime"))
    port, token = free_port(), uuid.uuid4().hex
    with open(folder / "jupyterlab.log", "w") as log:  # the server keeps its own copy of the file
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
             "--expose-app-in-browser", "--allow-root", "--LabApp.extension_manager=readonly",
             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{(folder / 'jupyterlab.log').read_text()[-3000:]}")
            try:
                api(base, token, "/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in 90 s:\n{(folder / 'jupyterlab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield {"url": f"{base}/lab/tree/pad.ipynb?token={token}", "base": base, "token": token, "log": folder / "jupyterlab.log"}
    finally:
        try:  # shut the kernels down through the server, then the server
            for kernel in api(base, token, "/api/kernels") or []:
                api(base, token, f"/api/kernels/{kernel['id']}", method="DELETE")
        except Exception:  # noqa: BLE001 - the server may already be gone; the kill below still runs
            pass
        for sig, grace in ((signal.SIGINT, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            if server.poll() is not None:
                break
            try:
                os.killpg(server.pid, sig)
            except ProcessLookupError:
                break
            try:
                server.wait(grace)
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture
def browser(chromium, jupyterlab):
    with headless_chromium(*chromium, TIMEOUT) as driver:
        yield driver


def canvas_ink(driver, selector: str) -> tuple[float, tuple[float, float] | None, tuple[int, int]]:
    """Total brightness of the canvas under ``selector``, its centre of mass (row, column) as fractions of
    the height and width (None when black), and its size in pixels, read back from the page."""
    return tuple(driver.execute_script(
        """
        const canvas = document.querySelector(arguments[0]);
        const {width, height} = canvas;
        const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
        let total = 0, rows = 0, cols = 0;
        for (let i = 0; i < data.length; i += 4) {
            const value = data[i] / 255, pixel = i / 4;
            total += value; rows += value * (Math.floor(pixel / width) + 0.5); cols += value * (pixel % width + 0.5);
        }
        return [total, total > 0 ? [rows / total / height, cols / total / width] : null, [width, height]];
        """,
        selector,
    ))


@pytest.mark.slow
def test_draw_blur_predict_and_reset_in_jupyterlab(jupyterlab, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, TIMEOUT, poll_frequency=0.5)
    image, label = test_image_and_label()

    # Open the notebook and run it once its kernel is ready (the app object: --expose-app-in-browser).
    browser.get(jupyterlab["url"])
    wait.until(lambda d: d.execute_script(
        "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        "return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.connectionStatus === 'connected' && w.content"
        " && w.content.widgets.length === 2);"
    ), message="JupyterLab did not open the notebook with a connected kernel")
    browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
    canvas = wait.until(lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, ".drawing-pad-canvas canvas")), None),
                        message="the drawing pad did not appear (training or widget rendering failed)")
    verdict = browser.find_element(By.CSS_SELECTOR, ".drawing-pad-verdict")
    wait.until(lambda d: START_MESSAGE in verdict.text, message="the pad's start message did not appear")
    assert canvas_ink(browser, ".drawing-pad-canvas canvas")[0] == 0.0

    # Draw the test digit, off-centre, row by row with the mouse button held down.
    assert canvas.size == {"width": GRID * SCALE, "height": GRID * SCALE}
    def offset(point):  # Selenium's offsets count from the element's centre
        return round(point[0] * SCALE - canvas.size["width"] / 2), round(point[1] * SCALE - canvas.size["height"] / 2)
    runs = ink_runs(image)
    for start, end in runs:
        actions = ActionChains(browser, duration=0)
        actions.move_to_element_with_offset(canvas, *offset(start)).click_and_hold()
        actions.move_to_element_with_offset(canvas, *offset(end)).release().perform()
    # Every drag repaints the canvas from the kernel; the last one has arrived when the bottom row shows.
    lowest_row = max(start[1] for start, _ in runs)
    wait.until(lambda d: d.execute_script(
        "const c = document.querySelector('.drawing-pad-canvas canvas');"
        "return c.getContext('2d').getImageData(0, arguments[0], c.width, 1).data.some((v, i) => i % 4 === 0 && v > 0);",
        int(lowest_row * SCALE)), message="the strokes never reached the canvas")
    drawn, drawn_centre, _ = canvas_ink(browser, ".drawing-pad-canvas canvas")
    assert drawn > 0 and drawn_centre[0] < 0.45 and drawn_centre[1] < 0.45, "the digit should sit up and left"

    browser.find_element(By.CSS_SELECTOR, "button.drawing-pad-blur").click()
    browser.find_element(By.CSS_SELECTOR, "button.drawing-pad-predict").click()
    wait.until(lambda d: "Prediction" in verdict.text, message="no prediction was shown")

    match = re.fullmatch(r"Prediction: (\d) \((\d+\.\d)% sure\)", verdict.text.strip())
    assert match, f"unexpected verdict: {verdict.text!r}"
    assert int(match.group(1)) == label, f"read the drawn {label} as {match.group(1)}"
    # The verdict is sent before the ten percentages, each a widget update of its own: wait for all of them.
    def percentages_shown(driver):
        texts = [driver.find_element(By.CSS_SELECTOR, f".drawing-pad-percent-{digit}").text for digit in range(10)]
        return texts if all(re.fullmatch(r"\d+\.\d%", text) for text in texts) else None
    percentages = wait.until(percentages_shown, message="the ten percentages did not all appear")
    values = [float(text[:-1]) for text in percentages]
    assert abs(sum(values) - 100.0) < 0.6, values
    assert int(np.argmax(values)) == label and values[label] == float(match.group(2)) and values[label] > 90.0, values

    # The 28 x 28 image the model saw: inked, with its centre of mass moved back to the middle.
    seen, seen_centre, size = canvas_ink(browser, ".drawing-pad-preview canvas")
    assert size == [112, 112] and seen > 0
    assert abs(seen_centre[0] * 28 - 14.5) < 1.0 and abs(seen_centre[1] * 28 - 14.5) < 1.0, seen_centre

    browser.find_element(By.CSS_SELECTOR, "button.drawing-pad-reset").click()
    wait.until(lambda d: START_MESSAGE in verdict.text, message="reset did not clear the prediction text")
    wait.until(lambda d: canvas_ink(d, ".drawing-pad-canvas canvas")[0] == 0.0, message="reset did not clear the pad")
    wait.until(lambda d: canvas_ink(d, ".drawing-pad-preview canvas")[0] == 0.0,
               message="reset did not clear the model's view")
    assert [browser.find_element(By.CSS_SELECTOR, f".drawing-pad-percent-{digit}").text for digit in range(10)] \
        == [""] * 10
    assert "Prediction" not in verdict.text
