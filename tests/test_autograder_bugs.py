"""Single-bug submissions: each loses exactly the points of the checks about its bug, keeps the rest."""

from __future__ import annotations

import pytest

from autograder.context import MnistTensors
from autograder.engine import grade
from submissions import SOLUTION, edited

pytestmark = pytest.mark.slow

# name: (edits by grade id, the checks that must fail)
BUGS = {
    "fc_wrong_hidden_size": (
        {"fc_class": [("nn.Linear(512, 256)", "nn.Linear(512, 200)"), ("nn.Linear(256, 128)", "nn.Linear(200, 128)")]},
        {"FC has the right number of parameters", "FC: layer output shapes", "FC: computes the intended function"}),
    "fc_missing_relu": (
        {"fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x)")]},
        {"FC: computes the intended function"}),
    "lenet_wrong_padding": (
        {"lenet_class": [("nn.Conv2d(1, 6, kernel_size=3, stride=1, padding=1)", "nn.Conv2d(1, 6, kernel_size=3, stride=1, padding=0)"),
                         ("nn.Conv2d(6, 16, kernel_size=3, stride=1, padding=1)", "nn.Conv2d(6, 16, kernel_size=3, stride=1, padding=0)"),
                         ("nn.Linear(16 * 7 * 7, 120)", "nn.Linear(16 * 5 * 5, 120)")]},
        {"CNN_LeNet has the right number of parameters", "CNN_LeNet: layer output shapes",
         "CNN_LeNet: computes the intended function"}),
    "lenet_wrong_flatten": (
        {"lenet_class": [("x = torch.flatten(x, start_dim=1)", "x = x.permute(0, 2, 3, 1).flatten(start_dim=1)")]},
        {"CNN_LeNet: computes the intended function"}),
    "cnn_average_pooling": (
        {"cnn_class": [("self.pool = nn.MaxPool2d(2)", "self.pool = nn.AvgPool2d(2)")]},
        {"CNN: computes the intended function"}),
    "cnn_ignores_filters": (
        {"cnn_class": [("nn.Conv2d(1, filters[0],", "nn.Conv2d(1, 16,"),
                       ("nn.Conv2d(filters[0], filters[1],", "nn.Conv2d(16, 32,"),
                       ("nn.Conv2d(filters[1], filters[2],", "nn.Conv2d(32, 64,"),
                       ("nn.Linear(filters[2] * 3 * 3, 128)", "nn.Linear(64 * 3 * 3, 128)")]},
        {"CNN(filters=...) sizes its layers from filters"}),
    "loop_no_zero_grad": (
        {"train_model": [("            opt.zero_grad()                     # step 10: reset the gradients\n", "")]},
        {"train_model: resets the gradients every batch", "train_model: weights match a reference loop from the same start"}),
    "loop_no_step": (
        {"train_model": [("            opt.step()                          # step 9: optimizer step\n", "")]},
        {"train_model: one forward, loss, backward and optimizer step per batch",
         "train_model: weights match a reference loop from the same start"}),
    "loop_backward_twice": (
        {"train_model": [("loss.backward()  ", "loss.backward(retain_graph=True); loss.backward()  ")]},
        {"train_model: one forward, loss, backward and optimizer step per batch",
         "train_model: resets the gradients every batch",
         "train_model: weights match a reference loop from the same start"}),
    "loop_ignores_epochs": (
        {"train_model": [("for epoch in range(epochs):", "for epoch in range(3):")]},
        {"train_model: trains for the given number of epochs",
         "train_model: weights match a reference loop from the same start"}),
    "loop_eval_without_no_grad": (
        {"train_model": [("        with torch.no_grad():\n            for x, y in dl_te:\n                x, y = x.to(device), y.to(device)\n                correct +=",
                          "        if True:\n            for x, y in dl_te:\n                x, y = x.to(device), y.to(device)\n                correct +=")]},
        {"train_model: evaluates without gradients"}),
    "loop_eval_in_train_mode": (
        {"train_model": [("        model.eval()\n", "")]},
        {"train_model: evaluates in eval mode"}),
    "wrong_loss": (
        {"loss_opt": [("criterion = nn.CrossEntropyLoss()", "criterion = nn.MultiMarginLoss()")]},
        {"criterion is the cross-entropy loss"}),
    "wrong_learning_rate": (
        {"loss_opt": [("lr=0.1)", "lr=0.01)")]},
        {"opt is SGD with learning rate 0.1 over model_fc's parameters"}),
    "wrong_parameter_answer": (
        {"fc_params": [("(784 * 512 + 512) + (512 * 256 + 256)", "(784 * 512) + (512 * 256 + 256)")]},
        {"your answer: parameters of FC"}),
}


@pytest.fixture(scope="module")
def mnist():
    data = MnistTensors()
    data.load()
    return data


@pytest.mark.parametrize("bug", list(BUGS))
def test_single_bug_loses_exactly_its_points(tmp_path, mnist, bug):
    edits, failing = BUGS[bug]
    verdict = grade(edited(SOLUTION, tmp_path, bug, edits), mnist=mnist)
    failed = {c.name for c in verdict.checks if not c.passed}
    assert failed == failing, [(c.name, c.reason) for c in verdict.checks if not c.passed]
    lost = sum(c.max_score for c in verdict.checks if c.name in failing)
    assert verdict.score == verdict.max_score - lost
    assert all(c.reason for c in verdict.checks if not c.passed)
