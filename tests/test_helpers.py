"""Unit tests of the helpers package on real MNIST and synthetic images and strokes."""

from __future__ import annotations

import pickle

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
import torch
from PIL import Image
from scipy.signal import convolve2d
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

from conftest import SOURCE_DIR
from helpers import (
    DrawingPad,
    FlattenImage,
    MNISTNotFoundError,
    accuracy,
    count_parameters,
    load_blackwhite_image,
    load_mnist,
    load_mnist_pixels,
    mnist_root,
    pixels_to_float,
    seed_everything,
    visualize_convolution,
)


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
    assert centre == pytest.approx(13.5, abs=0.1)


@pytest.mark.parametrize("flat, expected_shape", [(True, (1, 784)), (False, (1, 1, 28, 28))])
def test_predict_feeds_the_model_the_shape_it_expects(flat, expected_shape):
    model = ColumnReader(flat)
    pad = DrawingPad((28, 28), model, "cpu")
    vertical_stroke(pad, 3.0)  # centring moves it to column 13.5: classes 4 and 5
    digit, probabilities = pad.predict()
    assert model.seen_shapes == [expected_shape]
    assert digit in (4, 5) and probabilities.shape == (10,)
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
