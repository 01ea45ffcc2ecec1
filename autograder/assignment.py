"""Facts about the assignment the grader relies on: names, shapes, counts (no PyTorch needed to read them)."""

from __future__ import annotations

# The graded models: display name, the notebook's variable, the input of one sample, the variable
# holding the student's parameter count and the answer cell (grade id) that assigns it, and the
# reference's parameter count.
MODELS = {
    "fc": {"name": "FC", "variable": "model_fc", "input": (784,), "answer": "fc_num_params",
           "answer_cell": "fc_params", "parameters": 567434},
    "lenet": {"name": "CNN_LeNet", "variable": "model_lenet", "input": (1, 28, 28), "answer": "lenet_num_params",
              "answer_cell": "lenet_params", "parameters": 106154},
    "cnn": {"name": "CNN", "variable": "model_cnn", "input": (1, 28, 28), "answer": "cnn_num_params",
            "answer_cell": "cnn_params", "parameters": 98442},
}
# What one forward pass of the reference costs at the export batch size (100), as
# ``artifacts.graph_cost`` measures it: (operations, values produced). Student graphs may cost a few
# times more, never unboundedly more (tests/test_artifacts.py re-measures these).
REFERENCE_COST = {"fc": (114_130_634, 180_200), "lenet": (65_990_814, 1_884_200), "cnn": (405_566_346, 5_002_600)}
# CNN widths other than the default that the checks build from the student's class.
OTHER_CNN_FILTERS = ((8, 16, 32), (4, 8, 16))

# Per-sample output shapes of the layers that change shapes (convolution, pooling, fully connected):
# the notebook's summary tables. Activations are checked by the function checks instead.
LAYER_SHAPES = {
    "fc": [("linear", (512,)), ("linear", (256,)), ("linear", (128,)), ("linear", (10,))],
    "lenet": [("conv", (6, 28, 28)), ("pool", (6, 14, 14)),
              ("conv", (16, 14, 14)), ("pool", (16, 7, 7)),
              ("linear", (120,)), ("linear", (84,)), ("linear", (10,))],
    "cnn": [("conv", (16, 28, 28)), ("pool", (16, 14, 14)),
            ("conv", (32, 14, 14)), ("pool", (32, 7, 7)),
            ("conv", (64, 7, 7)), ("pool", (64, 3, 3)),
            ("linear", (128,)), ("linear", (10,))],
}

# What a student's code may import when it is graded, besides Python's standard library: the packages
# of requirements-grading.txt (by import name) and the notebook's helpers.
STUDENT_MODULES = ("torch", "torchvision", "torchsummary", "numpy", "scipy", "matplotlib", "PIL", "tqdm", "helpers")
