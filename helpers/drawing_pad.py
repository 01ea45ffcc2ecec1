"""A canvas to draw a digit with the mouse and ask a trained model what it is.

The drawing, blurring and prediction logic lives in plain methods on a NumPy array, so it runs and
is tested without a browser; the widgets (ipycanvas + ipywidgets, which work in JupyterLab 4 and
Notebook 7) only forward mouse strokes and button clicks to those methods.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch
from scipy import ndimage
from torch import nn

NUM_CLASSES = 10


class DrawingPad:
    """Draw on a ``size`` grid (white on black, like MNIST), blur the stroke, predict with ``model``."""

    def __init__(
        self,
        size: tuple[int, int] = (28, 28),
        model: Optional[nn.Module] = None,
        device: Union[str, torch.device] = "cpu",
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
        self._last_point: Optional[tuple[float, float]] = None
        self._widget = None

    # ---- drawing logic (grid coordinates: x is the column, y the row) ----
    def reset(self) -> None:
        """Clear the drawing."""
        self.pixels[:] = 0.0
        self._last_point = None
        self._refresh()

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
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            self.draw_line(x0, y0, x1, y1)

    def blur(self, sigma: float = 0.7) -> None:
        """Soften the stroke with a Gaussian so its edges fade like MNIST's scanned digits."""
        blurred = ndimage.gaussian_filter(self.pixels, sigma=sigma)
        peak = blurred.max()
        self.pixels = blurred / peak if peak > 0 else blurred
        self._refresh()

    def to_tensor(self) -> torch.Tensor:
        """The drawing as a ``(1, 1, H, W)`` float tensor, shifted so that its centre of mass sits in
        the middle of the grid, as MNIST's digits are."""
        image = self.pixels
        if image.sum() > 0:
            center_row, center_col = ndimage.center_of_mass(image)
            shift = ((self.size[0] - 1) / 2 - center_row, (self.size[1] - 1) / 2 - center_col)
            image = ndimage.shift(image, shift, order=1, mode="constant", cval=0.0)
        return torch.tensor(np.clip(image, 0.0, 1.0), dtype=torch.float32)[None, None]

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
        probabilities = torch.softmax(logits, dim=1)[0].cpu().numpy()
        return int(probabilities.argmax()), probabilities

    # ---- widgets ----
    @property
    def widget(self):
        """The interactive pad (built on first use, so the logic above needs no front end)."""
        if self._widget is None:
            self._widget = self._build_widget()
            self._refresh()
        return self._widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _build_widget(self):
        import ipywidgets as widgets
        from ipycanvas import Canvas

        height, width = self.size
        self._canvas = Canvas(width=width * self.scale, height=height * self.scale)
        self._canvas.layout.border = "1px solid #888"
        self._canvas.on_mouse_down(self._on_mouse_down)
        self._canvas.on_mouse_move(self._on_mouse_move)
        self._canvas.on_mouse_up(self._on_mouse_up)
        self._canvas.on_mouse_out(self._on_mouse_up)

        buttons = []
        for label, action in (("reset", self.reset), ("blur", self.blur), ("predict", self._show_prediction)):
            button = widgets.Button(description=label)
            button.on_click(lambda _button, action=action: action())
            buttons.append(button)
        self._verdict = widgets.HTML("Draw a digit, press <b>blur</b>, then <b>predict</b>.")
        self._bars = [
            widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description=str(digit))
            for digit in range(NUM_CLASSES)
        ]
        results = widgets.VBox([self._verdict, *self._bars])
        return widgets.HBox([widgets.VBox([self._canvas, widgets.HBox(buttons)]), results])

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
        self._last_point = None

    def _show_prediction(self) -> None:
        try:
            digit, probabilities = self.predict()
        except ValueError as error:
            self._verdict.value = str(error)
            return
        self._verdict.value = f"Prediction: <b style='font-size:1.6em'>{digit}</b>"
        for bar, probability in zip(self._bars, probabilities):
            bar.value = float(probability)
            bar.bar_style = "success" if bar.description == str(digit) else ""

    def _refresh(self) -> None:
        """Repaint the canvas from ``pixels`` (no-op until the widget exists)."""
        if self._widget is None:
            return
        grey = (np.kron(self.pixels, np.ones((self.scale, self.scale))) * 255).astype(np.uint8)
        self._canvas.put_image_data(np.repeat(grey[:, :, None], 3, axis=2), 0, 0)


def _expects_flat_input(model: nn.Module) -> bool:
    """True when the first layer with weights is ``nn.Linear`` (an MLP on 784-vectors)."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            return isinstance(module, nn.Linear)
    return False
