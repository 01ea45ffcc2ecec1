"""Unit tests of the helpers package on real MNIST and synthetic images and strokes."""

from __future__ import annotations

import pickle
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import IPython
import numpy as np
import pytest
import torch
from PIL import Image
from scipy.signal import convolve2d
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

import helpers
from conftest import ROOT, SOURCE_DIR
from helpers import (
    DrawingPad,
    FlattenImage,
    MNISTNotFoundError,
    accuracy,
    check_arithmetic_answer,
    count_parameters,
    load_blackwhite_image,
    load_mnist,
    load_mnist_pixels,
    mnist_root,
    pixels_to_float,
    seed_everything,
    visualize_convolution,
)
from helpers.drawing_pad import mnist_preprocess
from quick_model import train_quick_model

# ---- the package: each name from its module, imported on first use ----


def test_every_name_the_package_offers_is_its_modules_own():
    for name in helpers.__all__:
        value = getattr(helpers, name)
        assert getattr(sys.modules[value.__module__], name) is value
    with pytest.raises(AttributeError, match="no attribute 'load_minst'"):
        helpers.load_minst  # noqa: B018 - the attribute access is the test


def test_the_grader_imports_neither_plotting_nor_the_drawing_pad():
    probe = ("import sys, autograder.engine, autograder.scoring\n"
             "print(sorted(m for m in ('matplotlib', 'scipy', 'helpers.images', 'helpers.drawing_pad') if m in sys.modules))")
    shown = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"


# ---- accuracy, counting, seeding ----
def test_accuracy_counts_rows_whose_argmax_matches():
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert accuracy(logits, torch.tensor([1, 0, 0, 0])) == pytest.approx(0.75)


@pytest.mark.parametrize(
    "logits, labels, message",
    [
        (torch.zeros(4), torch.zeros(4, dtype=torch.long), "shape \\(N, classes\\)"),
        (torch.zeros(4, 3), torch.zeros(5, dtype=torch.long), "labels must have shape \\(4,\\)"),
        (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), "empty"),
    ],
)
def test_accuracy_rejects_wrong_shapes(logits, labels, message):
    with pytest.raises(ValueError, match=message):
        accuracy(logits, labels)


def test_count_parameters_skips_frozen_ones():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert count_parameters(model) == 16 + 10
    model[0].weight.requires_grad_(False)
    assert count_parameters(model) == 4 + 10


def test_seed_everything_repeats_initialisation():
    seed_everything(7)
    first = nn.Linear(5, 5).weight.detach().clone()
    seed_everything(7)
    assert torch.equal(first, nn.Linear(5, 5).weight)


# ---- the self-check of the parameter-count answers: the grader's rule, applied to the cells run ----
ANSWER_CHECK_CELL = 'check_arithmetic_answer("fc_num_params", count_parameters(model_fc))'


def self_check(*cells, expected=None):
    """Run the self-check as the notebook does: ``cells`` were run in this order, then the check cell."""
    return check_arithmetic_answer("fc_num_params", expected, history=["", *cells, ANSWER_CHECK_CELL])


@pytest.mark.parametrize("cell", [
    "fc_num_params = (3 * 4 + 4) + (4 * 2 + 2)",
    "# weights + biases, layer by layer\nlayer1 = 3 * 4 + 4\nlayer2 = 4 * 2 + 2\nfc_num_params = layer1 + layer2",
    "fc_num_params = 26",
    "fc_num_params = 52 / 2",   # a whole number, as a float: the grader accepts it too
])
def test_self_check_accepts_arithmetic_on_numbers(cell):
    assert self_check(cell, expected=26) == 26


@pytest.mark.parametrize("cell, reason", [
    ("fc_num_params = count_parameters(model_fc)", "it calls count_parameters()"),
    ("fc_num_params = sum(p.numel() for p in model_fc.parameters())", "it calls sum()"),
    ("fc_num_params = summary(model_fc, input_size=(784,))", "it calls summary()"),
    ("n = len(model_fc.fc1.weight)\nfc_num_params = n * 784", "it uses n"),
    ("%%time\nfc_num_params = 3 * 4 + 4", "not valid Python"),
])
def test_self_check_explains_why_an_answer_does_not_count(cell, reason):
    with pytest.raises(AssertionError) as failure:
        self_check(cell, expected=26)
    message = str(failure.value)
    assert message.startswith("fc_num_params must be written as arithmetic on numbers")
    assert reason in message and "no points" in message
    assert "26" not in message


def test_self_check_judges_the_cell_run_last_that_assigns_the_answer():
    literal, computed = "fc_num_params = 3 * 4 + 4 + 4 * 2 + 2", "fc_num_params = count_parameters(model_fc)"
    assert self_check(computed, "print(fc_num_params)", literal, "x = 1", expected=26) == 26
    with pytest.raises(AssertionError, match="calls count_parameters"):
        self_check(literal, computed, "print(fc_num_params)", "def f():\n    fc_num_params = 26\n")


def test_self_check_compares_with_the_model_without_telling_the_count():
    with pytest.raises(AssertionError) as failure:
        self_check("fc_num_params = 3 * 4 + 4 * 2 + 2", expected=26)
    message = str(failure.value)
    assert "fc_num_params = 22 is not the number of parameters of your model" in message
    assert "26" not in message
    with pytest.raises(AssertionError, match="is not a whole number"):
        self_check("fc_num_params = 51 / 2")
    assert self_check("fc_num_params = 51 // 2") == 25   # without `expected`, only the form is checked


def test_self_check_asks_for_the_answer_cell_when_none_was_run():
    with pytest.raises(AssertionError, match="fc_num_params is not assigned in any cell you ran"):
        self_check("print(fc_num_params)", "fc_num_params_2 = 4", "fc_num_params == 26")


class FakeShell:
    def __init__(self, raw=None, parsed=None):
        self.user_ns = {"In": parsed}
        if raw is not None:
            self.history_manager = type("History", (), {"input_hist_raw": raw})()


def test_self_check_reads_the_kernels_input_history(monkeypatch):
    raw = ["", "fc_num_params = count_parameters(model_fc)", ANSWER_CHECK_CELL]
    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeShell(raw=raw, parsed=[""]))
    with pytest.raises(AssertionError, match="calls count_parameters"):
        check_arithmetic_answer("fc_num_params", 26)
    raw.insert(2, "fc_num_params = 3 * 4 + 4 + 4 * 2 + 2")
    assert check_arithmetic_answer("fc_num_params", 26) == 26
    # Without a history manager, IPython's `In` list.
    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeShell(parsed=raw))
    assert check_arithmetic_answer("fc_num_params", 26) == 26
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    with pytest.raises(RuntimeError, match="Jupyter notebook"):
        check_arithmetic_answer("fc_num_params", 26)


# ---- MNIST ----
def test_mnist_root_follows_the_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_ROOT", str(tmp_path))
    assert mnist_root() == tmp_path
    monkeypatch.delenv("MNIST_ROOT")
    assert str(mnist_root()) == "data"


def test_load_mnist_reads_both_splits_from_the_shared_folder():
    train = load_mnist(train=True, transform=transforms.ToTensor())
    test = load_mnist(train=False)
    assert (len(train), len(test)) == (60000, 10000)
    image, label = train[0]
    assert image.shape == (1, 28, 28) and label == 5


def test_mnist_pixels_as_floats_match_to_tensor():
    pixels, labels = load_mnist_pixels(train=False)
    assert pixels.shape == (10000, 1, 28, 28) and pixels.dtype == torch.uint8 and labels.shape == (10000,)
    reference = load_mnist(train=False, transform=transforms.ToTensor())
    for index in (0, 1234, 9999):
        assert torch.equal(pixels_to_float(pixels[index]), reference[index][0])
        assert labels[index] == reference[index][1]


def test_missing_mnist_offline_gives_an_actionable_error(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_ROOT", str(tmp_path / "nowhere"))
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])  # unreachable, answers at once
    with pytest.raises(MNISTNotFoundError, match="Set MNIST_ROOT to a folder that holds MNIST/raw"):
        load_mnist(train=False)


@pytest.mark.parametrize("present", [[], ["data"], ["data", "data/MNIST"], ["data", "data/MNIST", "data/MNIST/raw"]])
def test_a_failed_download_leaves_no_folder_it_made(monkeypatch, tmp_path, present):
    """No empty data/MNIST/raw that looks like a dataset is left behind; folders that were there stay."""
    for folder in present:
        (tmp_path / folder).mkdir()
    monkeypatch.setenv("MNIST_ROOT", str(tmp_path / "data"))
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])  # unreachable, answers at once
    with pytest.raises(MNISTNotFoundError):
        load_mnist(train=True)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert left == present


def test_flatten_transform_pickles_and_works_in_worker_processes():
    transform = transforms.Compose([transforms.ToTensor(), FlattenImage()])
    assert isinstance(pickle.loads(pickle.dumps(transform)).transforms[1], FlattenImage)
    subset = Subset(load_mnist(train=False, transform=transform), range(64))
    batches = list(DataLoader(subset, batch_size=32, num_workers=2, multiprocessing_context="spawn"))
    assert [tuple(x.shape) for x, _ in batches] == [(32, 784), (32, 784)]


# ---- images and convolution ----
def test_load_blackwhite_image_gives_grey_levels_in_unit_range(tmp_path):
    rgb = np.zeros((6, 8, 3), dtype=np.uint8)
    rgb[:, 4:] = 255
    Image.fromarray(rgb).save(tmp_path / "half.png")
    grey = load_blackwhite_image(tmp_path / "half.png")
    assert grey.shape == (6, 8) and grey.dtype == np.float64
    assert grey[:, :4].max() == 0.0 and grey[:, 4:].min() == 1.0


def test_shipped_photo_loads():
    photo = load_blackwhite_image(SOURCE_DIR / "img" / "grace_hopper.png")
    assert photo.ndim == 2 and 0.0 <= photo.min() < photo.max() <= 1.0


def test_load_blackwhite_image_reports_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image file"):
        load_blackwhite_image(tmp_path / "missing.png")
    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(ValueError, match="not an image file"):
        load_blackwhite_image(tmp_path / "notes.txt")


def test_visualize_convolution_shows_input_kernel_and_same_size_output():
    rng = np.random.default_rng(0)
    image, kernel = rng.random((20, 30)), np.array([[1.0, 0.0, -1.0]] * 3)
    figure = visualize_convolution(image, kernel)
    shown = [axis.get_images()[0].get_array() for axis in figure.axes]
    assert len(shown) == 3
    np.testing.assert_allclose(shown[0], image)
    np.testing.assert_allclose(shown[1], kernel)
    np.testing.assert_allclose(shown[2], convolve2d(image, kernel, mode="same"))
    assert len(figure.axes[1].texts) == 9  # the kernel's weights are written on it


@pytest.mark.parametrize("image, kernel", [(np.zeros(5), np.ones((3, 3))), (np.zeros((5, 5)), np.ones((2, 2, 2)))])
def test_visualize_convolution_rejects_non_2d_input(image, kernel):
    with pytest.raises(ValueError, match="2-D"):
        visualize_convolution(image, kernel)


# ---- drawing pad ----
class ColumnReader(nn.Module):
    """Predicts the digit given by the column of the brightest ink mass (a deterministic stand-in model)."""

    def __init__(self, flat: bool):
        super().__init__()
        self.layer = nn.Linear(784, 10) if flat else nn.Conv2d(1, 1, 1)
        self.flat = flat
        self.seen_shapes = []

    def forward(self, x):
        self.seen_shapes.append(tuple(x.shape))
        image = x.reshape(-1, 28, 28)
        columns = image.sum(dim=1)[:, 9:19]  # 10 central columns, one per class
        return columns * 5.0


def vertical_stroke(pad: DrawingPad, column: float) -> None:
    pad.stroke([(column, 6.0), (column, 14.0), (column, 22.0)])


def test_stroke_inks_a_line_of_the_brush_width():
    pad = DrawingPad((28, 28), brush_radius=1.0)
    vertical_stroke(pad, 14.0)
    assert pad.pixels[10:18, 13:15].min() == 1.0        # on the line: full ink
    assert pad.pixels[:, :11].max() == 0.0 and pad.pixels[:, 17:].max() == 0.0
    assert pad.pixels[:4].max() == 0.0                   # nothing beyond the ends
    pad.reset()
    assert pad.pixels.max() == 0.0


def test_blur_spreads_ink_and_keeps_peak_at_one():
    pad = DrawingPad((28, 28))
    vertical_stroke(pad, 14.0)
    inked_before = (pad.pixels > 0).sum()
    pad.blur()
    assert pad.pixels.max() == pytest.approx(1.0)
    assert (pad.pixels > 0.01).sum() > inked_before


def test_to_tensor_centres_the_drawing_like_mnist():
    pad = DrawingPad((28, 28))
    vertical_stroke(pad, 5.0)  # far left
    tensor = pad.to_tensor()
    assert tensor.shape == (1, 1, 28, 28) and tensor.dtype == torch.float32
    columns = tensor[0, 0].sum(dim=0)
    centre = float((columns * torch.arange(28)).sum() / columns.sum())
    assert centre == pytest.approx(14.0, abs=0.5)  # where MNIST puts the centre of mass, to a whole pixel


@pytest.mark.parametrize("flat, expected_shape", [(True, (1, 784)), (False, (1, 1, 28, 28))])
def test_predict_feeds_the_model_the_shape_it_expects(flat, expected_shape):
    model = ColumnReader(flat)
    pad = DrawingPad((28, 28), model, "cpu")
    vertical_stroke(pad, 3.0)  # centring moves it to column 14: classes 4 to 6
    digit, probabilities = pad.predict()
    assert model.seen_shapes == [expected_shape]
    assert digit in (4, 5, 6) and probabilities.shape == (10,)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-6)
    assert model.training, "predict must restore the model's training mode"


def test_predict_explains_what_is_missing():
    with pytest.raises(ValueError, match="no model"):
        DrawingPad((28, 28)).predict()
    with pytest.raises(ValueError, match="empty"):
        DrawingPad((28, 28), ColumnReader(False)).predict()
    with pytest.raises(ValueError, match="at least 8"):
        DrawingPad((4, 4))


def test_widget_buttons_drive_the_same_logic():
    pad = DrawingPad((28, 28), ColumnReader(False), "cpu", scale=10)
    widget = pad.widget
    pad._on_mouse_down(140, 60)   # canvas pixels: grid (14, 6)
    pad._on_mouse_move(140, 220)  # grid (14, 22)
    pad._on_mouse_up(140, 220)
    assert pad.pixels[10:18, 13:15].min() == 1.0
    buttons = {b.description: b for b in widget.children[0].children[1].children}
    buttons["predict"].click()
    assert "Prediction" in pad._verdict.value
    assert sum(bar.value for bar in pad._bars) == pytest.approx(1.0, abs=1e-6)
    buttons["reset"].click()
    assert pad.pixels.max() == 0.0


# ---- MNIST-style preprocessing: bounding box to 20 x 20, centre of mass to the middle of 28 x 28 ----
# A "2" as a polyline in unit coordinates (x to the right, y down), drawn at any size and place.
TWO = [(0.1, 0.25), (0.3, 0.05), (0.7, 0.05), (0.9, 0.3), (0.8, 0.55), (0.1, 1.0), (0.95, 1.0)]


def draw_glyph(pad: DrawingPad, glyph, left: float, top: float, size: float) -> None:
    pad.stroke([(left + size * x, top + size * y) for x, y in glyph])


def ink_center(image) -> np.ndarray:
    rows, cols = np.indices(image.shape)
    return np.array([(rows * image).sum(), (cols * image).sum()]) / image.sum()


def ink_extent(image, threshold=0.05) -> tuple[int, int]:
    rows = np.flatnonzero((image > threshold).any(axis=1))
    cols = np.flatnonzero((image > threshold).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def shrink_and_move(image: np.ndarray, size: int, top: int, left: int) -> np.ndarray:
    """``image`` resized to ``size`` x ``size`` and pasted at (top, left) of an empty 28 x 28 frame."""
    small = Image.fromarray(image.astype(np.float32)).resize((size, size), Image.Resampling.BILINEAR)
    frame = np.zeros((28, 28))
    frame[top : top + size, left : left + size] = np.clip(np.asarray(small), 0.0, 1.0)
    return frame


def test_preprocess_fits_the_ink_in_20_pixels_and_puts_its_mass_at_the_centre():
    pad = DrawingPad((28, 28))
    pad.stroke([(3.0, 3.0), (3.0, 12.0)])                # a short vertical bar in the top-left corner
    image = pad.model_input()
    assert image.shape == (28, 28) and image.min() >= 0.0 and image.max() <= 1.0
    height, width = ink_extent(image)
    assert height == 20 and width < 8                    # longer side 20 pixels, aspect ratio kept
    np.testing.assert_allclose(ink_center(image), [14.0, 14.0], atol=0.5)


def test_preprocess_of_an_empty_pad_is_blank_and_mnist_digits_come_back_unchanged():
    assert mnist_preprocess(np.zeros((28, 28))).max() == 0.0
    pixels, _ = load_mnist_pixels(train=False)
    for index in range(20):
        digit = pixels_to_float(pixels[index, 0]).numpy().astype(np.float64)
        assert np.abs(mnist_preprocess(digit) - digit).max() < 0.1, index  # faint edge pixels may move a bit


def test_small_off_centre_digit_preprocesses_like_the_same_digit_large_and_centred():
    large, small = DrawingPad((56, 56), brush_radius=2.0), DrawingPad((56, 56), brush_radius=1.0)
    draw_glyph(large, TWO, left=8.0, top=8.0, size=40.0)
    draw_glyph(small, TWO, left=2.0, top=33.0, size=20.0)  # half the size, in the bottom-left corner
    assert np.abs(ink_center(large.pixels) - ink_center(small.pixels)).max() > 10  # far apart on the pad
    seen_large, seen_small = large.model_input(), small.model_input()
    assert np.abs(seen_large - seen_small).mean() < 0.05
    assert np.corrcoef(seen_large.ravel(), seen_small.ravel())[0, 1] > 0.9


def test_shrunk_and_moved_mnist_digits_preprocess_back_to_the_originals():
    pixels, _ = load_mnist_pixels(train=False)
    rng, correlations = np.random.default_rng(0), []
    for index in range(30):
        digit = pixels_to_float(pixels[index, 0]).numpy().astype(np.float64)
        top, left = rng.integers(0, 28 - 14, size=2)
        moved = shrink_and_move(digit, 14, top, left)
        restored = mnist_preprocess(moved)
        np.testing.assert_allclose(ink_center(restored), [14.0, 14.0], atol=0.5)
        # Centring moves by whole pixels, so a rounding may leave the copy one pixel off the original.
        best = max(np.corrcoef(np.roll(restored, (dy, dx), axis=(0, 1)).ravel(), digit.ravel())[0, 1]
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1))
        assert best > 0.5, f"test image {index}: correlation {best:.2f} with the original"
        correlations.append(best)
    # Shrinking to 14 pixels and back blurs thin strokes (a thin "0" suffers most), so only the typical
    # digit must come back close to the original.
    assert np.median(correlations) > 0.8, np.round(correlations, 2)


@pytest.fixture(scope="module")
def quick_mnist_model():
    """An MLP trained for one pass over MNIST (about a second on one CPU core): about 97% test accuracy."""
    return train_quick_model()


def test_model_reads_shrunk_and_moved_mnist_digits_only_after_preprocessing(quick_mnist_model):
    pixels, labels = load_mnist_pixels(train=False)
    count, rng = 300, np.random.default_rng(1)
    moved = np.stack([
        shrink_and_move(pixels_to_float(pixels[i, 0]).numpy().astype(np.float64), 14, *rng.integers(0, 14, size=2))
        for i in range(count)
    ])
    with torch.no_grad():
        raw_guesses = quick_mnist_model(torch.tensor(moved, dtype=torch.float32)).argmax(dim=1)
    pad = DrawingPad((28, 28), quick_mnist_model)
    pad_guesses = []
    for image in moved:
        pad.pixels = image.copy()
        pad_guesses.append(pad.predict()[0])
    raw_accuracy = (raw_guesses == labels[:count]).float().mean().item()
    pad_accuracy = (torch.tensor(pad_guesses) == labels[:count]).float().mean().item()
    assert raw_accuracy < 0.4, f"shrunk, off-centre digits should confuse the model ({raw_accuracy:.2f})"
    assert pad_accuracy > 0.8, f"the pad's preprocessing should restore them ({pad_accuracy:.2f})"


def test_prediction_shows_percentages_on_the_bars_and_the_model_input(quick_mnist_model):
    pad = DrawingPad((28, 28), quick_mnist_model, scale=10)
    widget = pad.widget
    pad.pixels = pixels_to_float(load_mnist_pixels(train=False)[0][0, 0]).numpy().astype(np.float64)  # a 7
    buttons = {b.description: b for b in widget.children[0].children[1].children}
    buttons["predict"].click()
    digit, probabilities = pad.prediction
    assert digit == 7 and "Prediction: <b" in pad._verdict.value and ">7</b>" in pad._verdict.value
    shown = [float(label.value.rstrip("%")) for label in pad._percentages]
    np.testing.assert_allclose(shown, 100 * probabilities, atol=0.05)
    assert pad._percentages[7].value == f"{100 * probabilities[7]:.1f}%"
    assert [bar.bar_style for bar in pad._bars].count("success") == 1 and pad._bars[7].bar_style == "success"
    np.testing.assert_allclose([bar.value for bar in pad._bars], probabilities)


def test_reset_clears_the_pad_and_the_prediction():
    pad = DrawingPad((28, 28), ColumnReader(False), "cpu", scale=10)
    widget = pad.widget
    empty_message = pad._verdict.value
    vertical_stroke(pad, 14.0)
    buttons = {b.description: b for b in widget.children[0].children[1].children}
    buttons["predict"].click()
    assert pad.prediction is not None and pad._verdict.value != empty_message
    assert any(label.value for label in pad._percentages)
    buttons["reset"].click()
    assert pad.pixels.max() == 0.0 and pad.model_input().max() == 0.0
    assert pad.prediction is None and pad._verdict.value == empty_message
    assert all(bar.value == 0.0 and bar.bar_style == "" for bar in pad._bars)
    assert all(label.value == "" for label in pad._percentages)
    with pytest.raises(ValueError, match="empty"):
        pad.predict()


def test_predicting_an_empty_pad_says_so_instead_of_showing_old_bars():
    pad = DrawingPad((28, 28), ColumnReader(False), "cpu")
    widget = pad.widget
    buttons = {b.description: b for b in widget.children[0].children[1].children}
    buttons["predict"].click()
    assert "empty" in pad._verdict.value and pad.prediction is None
    assert all(label.value == "" for label in pad._percentages)
