"""Facts about the assignment the grader relies on: names, shapes, counts (no PyTorch needed to read them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """One graded model: how the notebook names it, what the reference looks like, and where a student
    builds it."""

    key: str                                  # the grader's short name (records, results)
    name: str                                 # the notebook's class name, shown to students
    variable: str                             # the notebook variable holding an instance
    input: tuple[int, ...]                    # the input of one sample
    answer: str                               # the variable holding the student's parameter count
    answer_cell: str                          # the answer cell (grade id) that assigns it
    cells: tuple[str, ...]                    # the cells (grade ids) that define and build the model
    parameters: int                           # the reference's parameter count
    convolutions: int                         # the intended structure: convolution blocks ...
    linears: int                              # ... then linear layers
    # What one forward pass of the reference costs at ``EXPORT_BATCH`` (100) inputs, as
    # ``artifacts.graph_cost`` measures it: (operations, values produced). Student graphs may cost a
    # few times more, never unboundedly more (the unit tests re-measure these).
    reference_cost: tuple[int, int]
    # Per-sample output shapes of the layers that change shapes (convolution, pooling, linear): the
    # notebook's summary tables. Activations are the function check's business.
    layer_shapes: tuple[tuple[str, tuple[int, ...]], ...]


FC = ModelSpec(
    "fc", "FC", "model_fc", (784,), "fc_num_params", "fc_params", ("fc_class", "fc_create"), 567434, 0, 4,
    (114_130_634, 180_200),
    (("linear", (512,)), ("linear", (256,)), ("linear", (128,)), ("linear", (10,))))
LENET = ModelSpec(
    "lenet", "CNN_LeNet", "model_lenet", (1, 28, 28), "lenet_num_params", "lenet_params",
    ("lenet_class", "lenet_create"), 106154, 2, 3, (65_990_814, 1_884_200),
    (("conv", (6, 28, 28)), ("pool", (6, 14, 14)), ("conv", (16, 14, 14)), ("pool", (16, 7, 7)),
     ("linear", (120,)), ("linear", (84,)), ("linear", (10,))))
CNN = ModelSpec(
    "cnn", "CNN", "model_cnn", (1, 28, 28), "cnn_num_params", "cnn_params", ("cnn_class", "cnn_create"), 98442,
    3, 2, (405_566_346, 5_002_600),
    (("conv", (16, 28, 28)), ("pool", (16, 14, 14)), ("conv", (32, 14, 14)), ("pool", (32, 7, 7)),
     ("conv", (64, 7, 7)), ("pool", (64, 3, 3)), ("linear", (128,)), ("linear", (10,))))
MODELS: dict[str, ModelSpec] = {spec.key: spec for spec in (FC, LENET, CNN)}

# CNN widths other than the default that the checks build from the student's class.
OTHER_CNN_FILTERS = ((8, 16, 32), (4, 8, 16))
# The cells that define the loss, the optimizer and the training loop.
SETUP_CELLS = ("loss_opt",)
LOOP_CELLS = ("train_model",)

# What a student's code may import when it is graded, besides Python's standard library: the packages
# of requirements-grading.txt (by import name) and the notebook's helpers.
STUDENT_MODULES = ("torch", "torchvision", "torchsummary", "numpy", "scipy", "matplotlib", "PIL", "tqdm", "ipywidgets",
                   "IPython", "helpers")
