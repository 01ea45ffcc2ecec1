"""A canvas to draw a digit with the mouse and ask a trained model what it is.

The drawing, blurring, preprocessing and prediction logic lives in plain methods on a NumPy array, so
it runs and is tested without a browser; the widgets (ipycanvas + ipywidgets, which work in JupyterLab 4
and Notebook 7) only forward mouse strokes and button clicks to those methods and show the results.

Before predicting, the drawing is normalised the way MNIST's digits were (LeCun et al.): the bounding
box of the ink is scaled, keeping its aspect ratio, to fit a 20 x 20 box, and that box is placed in a
28 x 28 frame so that the centre of mass of the ink sits in the middle. The pad shows this 28 x 28
image, which is exactly what the model receives.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from torch import nn

NUM_CLASSES = 10
MNIST_SIZE = 28        # side of the frame the model sees
MNIST_BOX = 20         # side of the box the digit's bounding box is scaled to fit
MNIST_CENTER = 14.0    # row and column (pixel indices) of the centre of mass of MNIST's digits
INK_THRESHOLD = 0.05   # fraction of the brightest pixel below which a pixel is background for the bounding box
PREVIEW_SCALE = 4      # screen pixels per pixel of the 28 x 28 preview
START_MESSAGE = "Draw a digit, press <b>blur</b>, then <b>predict</b>."


def mnist_preprocess(pixels: np.ndarray) -> np.ndarray:
    """Normalise a drawing (2-D array, ink > 0 on 0 background) the way MNIST's digits were made.

    The bounding box of the ink is cut out and resized, keeping its aspect ratio, so that its longer
    side is 20 pixels; it is then moved, by whole pixels, in a 28 x 28 frame so that its centre of mass
    falls on pixel (14, 14), where MNIST's digits have theirs (test-set mean 14.0, spread 0.3). Returns
    a float array of shape (28, 28) with values in [0, 1] (all zeros for an empty drawing). An image
    that is already normalised, such as an MNIST digit, comes back as it was (to within rounding).
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D drawing, got shape {pixels.shape}")
    frame = np.zeros((MNIST_SIZE, MNIST_SIZE))
    peak = pixels.max(initial=0.0)
    if peak <= 0:
        return frame
    rows = np.flatnonzero((pixels > INK_THRESHOLD * peak).any(axis=1))
    cols = np.flatnonzero((pixels > INK_THRESHOLD * peak).any(axis=0))
    crop = pixels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] / peak
    height, width = crop.shape
    factor = MNIST_BOX / max(height, width)
    new_height = max(1, min(MNIST_BOX, round(height * factor)))
    new_width = max(1, min(MNIST_BOX, round(width * factor)))
    # Pillow's resampling filters widen with the reduction factor, so shrinking averages (anti-aliases).
    resized = Image.fromarray(crop.astype(np.float32)).resize(
        (new_width, new_height), Image.Resampling.BILINEAR
    )
    box = np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)
    top, left = (MNIST_SIZE - new_height) // 2, (MNIST_SIZE - new_width) // 2
    frame[top : top + new_height, left : left + new_width] = box
    if frame.sum() > 0:
        center_row, center_col = ndimage.center_of_mass(frame)
        shift = (round(MNIST_CENTER - center_row), round(MNIST_CENTER - center_col))  # whole pixels, as MNIST
        frame = ndimage.shift(frame, shift, order=0, mode="constant", cval=0.0)
    return np.clip(frame, 0.0, 1.0)


class DrawingPad:
    """Draw on a ``size`` grid (white on black, like MNIST), blur the stroke, predict with ``model``.

    The model always receives the 28 x 28 image of :func:`mnist_preprocess`, whatever the grid size;
    :meth:`model_input` returns it and the widget shows it beside the pad.
    """

    def __init__(
        self,
        size: tuple[int, int] = (28, 28),
        model: nn.Module | None = None,
        device: str | torch.device = "cpu",
        scale: int = 10,
        brush_radius: float = 1.0,
    ) -> None:
        if len(size) != 2 or min(size) < 8:
            raise ValueError(f"size must be (height, width), each at least 8 pixels, got {size}")
        if scale < 1 or brush_radius <= 0:
            raise ValueError("scale must be >= 1 and brush_radius > 0")
        self.size = (int(size[0]), int(size[1]))
        self.model = model
        self.device = torch.device(device)
        self.scale = int(scale)
        self.brush_radius = float(brush_radius)
        self.pixels = np.zeros(self.size, dtype=np.float64)
        self._last_point: tuple[float, float] | None = None
        self.prediction: tuple[int, np.ndarray] | None = None  # the last (digit, probabilities) shown
        self._widget = None

    # ---- drawing logic (grid coordinates: x is the column, y the row) ----
    def reset(self) -> None:
        """Clear the drawing, the model's view of it and the last prediction (text and bars)."""
        self.pixels[:] = 0.0
        self._last_point = None
        self.prediction = None
        self._refresh()
        self._refresh_preview()
        self._refresh_prediction()

    def draw_line(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Paint a stroke of ``brush_radius`` from (x0, y0) to (x1, y1), with a soft anti-aliased edge."""
        rows, cols = np.mgrid[0 : self.size[0], 0 : self.size[1]]
        centers_x, centers_y = cols + 0.5, rows + 0.5
        dx, dy = x1 - x0, y1 - y0
        length_sq = dx * dx + dy * dy
        if length_sq == 0.0:
            t = np.zeros(self.size)
        else:
            t = np.clip(((centers_x - x0) * dx + (centers_y - y0) * dy) / length_sq, 0.0, 1.0)
        distance = np.hypot(centers_x - (x0 + t * dx), centers_y - (y0 + t * dy))
        ink = np.clip(self.brush_radius + 0.5 - distance, 0.0, 1.0)
        np.maximum(self.pixels, ink, out=self.pixels)
        self._refresh()

    def stroke(self, points: list[tuple[float, float]]) -> None:
        """Draw a polyline through ``points`` (a single point makes a dot)."""
        if not points:
            return
        if len(points) == 1:
            points = [points[0], points[0]]
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            self.draw_line(x0, y0, x1, y1)

    def blur(self, sigma: float = 0.7) -> None:
        """Soften the stroke with a Gaussian so its edges fade like MNIST's scanned digits."""
        blurred = ndimage.gaussian_filter(self.pixels, sigma=sigma)
        peak = blurred.max()
        self.pixels = blurred / peak if peak > 0 else blurred
        self._refresh()
        self._refresh_preview()

    def model_input(self) -> np.ndarray:
        """The 28 x 28 image the model sees: the drawing normalised like MNIST (see :func:`mnist_preprocess`)."""
        return mnist_preprocess(self.pixels)

    def to_tensor(self) -> torch.Tensor:
        """:meth:`model_input` as a ``(1, 1, 28, 28)`` float32 tensor."""
        return torch.tensor(self.model_input(), dtype=torch.float32)[None, None]

    def predict(self) -> tuple[int, np.ndarray]:
        """The model's digit for the drawing and its ten class probabilities."""
        if self.model is None:
            raise ValueError("DrawingPad has no model: pass one, e.g. DrawingPad((28, 28), model, device)")
        if self.pixels.max() == 0:
            raise ValueError("the pad is empty: draw a digit first")
        inputs = self.to_tensor().to(self.device)
        if _expects_flat_input(self.model):
            inputs = inputs.flatten(start_dim=1)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                logits = self.model(inputs)
        finally:
            self.model.train(was_training)
        if logits.shape != (1, NUM_CLASSES):
            raise ValueError(f"the model should return (1, {NUM_CLASSES}) logits, got {tuple(logits.shape)}")
        probabilities = torch.softmax(logits.double(), dim=1)[0].cpu().numpy()
        return int(probabilities.argmax()), probabilities

    # ---- widgets ----
    @property
    def widget(self):
        """The interactive pad (built on first use, so the logic above needs no front end)."""
        if self._widget is None:
            self._widget = self._build_widget()
            self._refresh()
            self._refresh_preview()
            self._refresh_prediction()
        return self._widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _build_widget(self):
        import ipywidgets as widgets
        from ipycanvas import Canvas

        height, width = self.size
        self._canvas = Canvas(width=width * self.scale, height=height * self.scale)
        self._canvas.on_mouse_down(self._on_mouse_down)
        self._canvas.on_mouse_move(self._on_mouse_move)
        self._canvas.on_mouse_up(self._on_mouse_up)
        self._canvas.on_mouse_out(self._on_mouse_up)
        # The border sits on a box around the canvas: on the canvas itself it would shift the mouse
        # coordinates that ipycanvas reports.
        pad_box = widgets.Box([self._canvas], layout=widgets.Layout(border="1px solid #888", width="fit-content"))
        pad_box.add_class("drawing-pad-canvas")

        buttons = []
        for label, action in (("reset", self.reset), ("blur", self.blur), ("predict", self._show_prediction)):
            button = widgets.Button(description=label, layout=widgets.Layout(width="auto"))
            button.on_click(lambda _button, action=action: action())
            button.add_class(f"drawing-pad-{label}")
            buttons.append(button)

        self._preview = Canvas(width=MNIST_SIZE * PREVIEW_SCALE, height=MNIST_SIZE * PREVIEW_SCALE)
        preview_box = widgets.Box([self._preview], layout=widgets.Layout(border="1px solid #888", width="fit-content"))
        preview_box.add_class("drawing-pad-preview")
        preview = widgets.VBox([widgets.HTML("What the model sees<br>(28 x 28, centred like MNIST):"), preview_box],
                               layout=widgets.Layout(margin="0 16px"))

        self._verdict = widgets.HTML(START_MESSAGE)
        self._verdict.add_class("drawing-pad-verdict")
        self._bars, self._percentages, rows = [], [], []
        for digit in range(NUM_CLASSES):
            bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description=str(digit),
                                        layout=widgets.Layout(width="260px"))
            percentage = widgets.Label("")
            percentage.add_class(f"drawing-pad-percent-{digit}")
            self._bars.append(bar)
            self._percentages.append(percentage)
            rows.append(widgets.HBox([bar, percentage]))
        results = widgets.VBox([self._verdict, *rows])
        pad = widgets.VBox([pad_box, widgets.HBox(buttons)])
        return widgets.HBox([pad, preview, results])

    def _to_grid(self, x: float, y: float) -> tuple[float, float]:
        return x / self.scale, y / self.scale

    def _on_mouse_down(self, x: float, y: float) -> None:
        self._last_point = self._to_grid(x, y)
        self.draw_line(*self._last_point, *self._last_point)

    def _on_mouse_move(self, x: float, y: float) -> None:
        if self._last_point is None:
            return
        point = self._to_grid(x, y)
        self.draw_line(*self._last_point, *point)
        self._last_point = point

    def _on_mouse_up(self, x: float, y: float) -> None:
        if self._last_point is not None:
            self._last_point = None
            self._refresh_preview()

    def _show_prediction(self) -> None:
        try:
            self.prediction = self.predict()
        except ValueError as error:
            self.prediction = None
            self._refresh_prediction(message=str(error))
            return
        self._refresh_preview()
        self._refresh_prediction()

    # ---- repainting the widgets (each a no-op until the widget exists) ----
    def _refresh(self) -> None:
        """Repaint the canvas from ``pixels``."""
        if self._widget is None:
            return
        self._canvas.put_image_data(_grey_to_rgb(self.pixels, self.scale), 0, 0)

    def _refresh_preview(self) -> None:
        """Repaint the small canvas with the 28 x 28 image the model sees."""
        if self._widget is None:
            return
        self._preview.put_image_data(_grey_to_rgb(self.model_input(), PREVIEW_SCALE), 0, 0)

    def _refresh_prediction(self, message: str = START_MESSAGE) -> None:
        """Show ``prediction`` as text and as bars labelled with percentages, or ``message`` and empty bars."""
        if self._widget is None:
            return
        if self.prediction is None:
            self._verdict.value = message
            for bar, percentage in zip(self._bars, self._percentages, strict=True):
                bar.value, bar.bar_style, percentage.value = 0.0, "", ""
            return
        digit, probabilities = self.prediction
        self._verdict.value = (f"Prediction: <b style='font-size:1.6em'>{digit}</b> "
                               f"({100 * probabilities[digit]:.1f}% sure)")
        for index, (bar, percentage, probability) in enumerate(
                zip(self._bars, self._percentages, probabilities, strict=False)):
            bar.value = float(probability)
            bar.bar_style = "success" if index == digit else ""
            percentage.value = f"{100 * probability:.1f}%"


def _grey_to_rgb(grey: np.ndarray, scale: int) -> np.ndarray:
    """A [0, 1] grey image enlarged ``scale`` times as (H, W, 3) uint8 RGB, for ``Canvas.put_image_data``."""
    pixels = (np.kron(np.clip(grey, 0.0, 1.0), np.ones((scale, scale))) * 255).round().astype(np.uint8)
    return np.repeat(pixels[:, :, None], 3, axis=2)

def _expects_flat_input(model: nn.Module) -> bool:
    """True when the first layer with weights is ``nn.Linear`` (an MLP on 784-vectors)."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            return isinstance(module, nn.Linear)
    return False
