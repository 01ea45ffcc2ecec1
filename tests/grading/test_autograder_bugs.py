"""Single-bug submissions: each loses exactly the points of the checks about its bug, keeps the rest."""

from __future__ import annotations

import pytest

from autograder.context import MnistTensors
from autograder.engine import grade
from submissions import SOLUTION, edited

pytestmark = pytest.mark.slow

# Points of each check, by the names the verdicts use.
POINTS = {"FC has the right number of parameters": 4, "CNN_LeNet has the right number of parameters": 4,
          "CNN has the right number of parameters": 4, "CNN(filters=...) sizes its layers from filters": 4,
          "your answer: parameters of FC": 2, "your answer: parameters of CNN_LeNet": 2, "your answer: parameters of CNN": 2,
          "FC: layer output shapes": 4, "CNN_LeNet: layer output shapes": 4, "CNN: layer output shapes": 4,
          "FC: computes the intended function": 6, "CNN_LeNet: computes the intended function": 6,
          "CNN: computes the intended function": 6, "criterion is the cross-entropy loss": 2,
          "opt is SGD with learning rate 0.1 over model_fc's parameters": 3,
          "train_model: one optimizer step per batch, after the backward pass": 5,
          "train_model: resets the gradients every batch": 4,
          "train_model: weights match a correct loop from the same start": 6,
          "train_model: trains for the given number of epochs": 4, "train_model: evaluates in eval mode": 3,
          "train_model: returns the test accuracy after each epoch, over the whole test set": 3, "FC: test accuracy after the grader's training": 6,
          "CNN_LeNet: test accuracy after the grader's training": 6, "CNN: test accuracy after the grader's training": 6}
STEP = "train_model: one optimizer step per batch, after the backward pass"
WEIGHTS = "train_model: weights match a correct loop from the same start"
RESET = "train_model: resets the gradients every batch"
EPOCHS = "train_model: trains for the given number of epochs"
EVAL_MODE = "train_model: evaluates in eval mode"
RETURNED = "train_model: returns the test accuracy after each epoch, over the whole test set"
STEP_9 = "            opt.step()                          # step 9: optimizer step\n"
STEP_10 = "            opt.zero_grad()                     # step 10: reset the gradients\n"
TEST_ACC = "        test_acc = correct / len(dl_te.dataset)\n"

# name: (edits by grade id, the checks that must fail, the exact score)
BUGS = {
    "fc_wrong_hidden_size": (
        {"fc_class": [("nn.Linear(512, 256)", "nn.Linear(512, 200)"), ("nn.Linear(256, 128)", "nn.Linear(200, 128)")]},
        {"FC has the right number of parameters", "FC: layer output shapes"}, 92),
    "fc_narrow_second_layer": (
        {"fc_class": [("nn.Linear(512, 256)", "nn.Linear(512, 100)"), ("nn.Linear(256, 128)", "nn.Linear(100, 128)")]},
        {"FC has the right number of parameters", "FC: layer output shapes"}, 92),
    "fc_extra_layer": (
        {"fc_class": [("self.fc4 = nn.Linear(128, 10)", "self.fc4 = nn.Sequential(nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))")]},
        {"FC has the right number of parameters", "FC: layer output shapes", "FC: computes the intended function",
         "FC: test accuracy after the grader's training"}, 80),
    # The forward pass fails (its last layer expects 256 inputs): every FC check needs its graph, and so does
    # the optimizer's, judged on model_fc's parameters as its graph has them (never on shapes the sandbox names).
    "fc_forward_fails": (
        {"fc_class": [("self.fc4 = nn.Linear(128, 10)", "self.fc4 = nn.Linear(256, 10)")]},
        {"FC has the right number of parameters", "FC: layer output shapes", "FC: computes the intended function",
         "FC: test accuracy after the grader's training", "opt is SGD with learning rate 0.1 over model_fc's parameters"},
        77),
    # An activation written by hand that is no ReLU (the layer's output times zero): the function and the
    # accuracy, not the layers or their count.
    "fc_layer_output_times_zero": (
        {"fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x) * 0")]},
        {"FC: computes the intended function", "FC: test accuracy after the grader's training"}, 88),
    # opt on a name that does not exist, before criterion in the same cell: opt alone is lost.
    "optimizer_on_an_undefined_model": (
        {"loss_opt": [("criterion = nn.CrossEntropyLoss()\nopt = torch.optim.SGD(model_fc.parameters(), lr=0.1)",
                       "opt = torch.optim.SGD(model.parameters(), lr=0.1)\ncriterion = nn.CrossEntropyLoss()")]},
        {"opt is SGD with learning rate 0.1 over model_fc's parameters"}, 97),
    # train_model raises in its evaluation after a correct first epoch (".item" without its call): the
    # passes before the error are judged (weights, steps, reset); the epochs, the mode and the accuracies not.
    "evaluation_raises_after_correct_training": (
        {"train_model": [("correct += (model(x).argmax(dim=1) == y).sum().item()",
                          "correct += (model(x).argmax(dim=1) == y).sum().item")]},
        {EPOCHS, EVAL_MODE, RETURNED}, 90),
    # A dropout left on in eval mode (F.dropout without training=self.training): the function only.
    "fc_dropout_left_on": (
        {"fc_class": [("x = F.relu(self.fc2(x))", "x = F.relu(self.fc2(F.dropout(x, 0.2)))")]},
        {"FC: computes the intended function"}, 94),
    # The last line names a variable that does not exist: every pass was made, nothing was returned.
    "return_of_a_misspelled_name": (
        {"train_model": [("    return history", "    return histroy")]}, {EVAL_MODE, RETURNED}, 94),
    # A stray line in the class's cell, an import the grader lacks: the cell reports it, the class is kept.
    "import_of_an_unavailable_module_beside_the_class": (
        {"fc_class": [("class FC(nn.Module):", "import torchinfo\n\n\nclass FC(nn.Module):")]}, set(), 100),
    "fc_missing_relu": (
        {"fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x)")]},
        {"FC: computes the intended function"}, 94),
    "lenet_wrong_padding": (
        {"lenet_class": [("nn.Conv2d(1, 6, kernel_size=3, stride=1, padding=1)", "nn.Conv2d(1, 6, kernel_size=3, stride=1, padding=0)"),
                         ("nn.Conv2d(6, 16, kernel_size=3, stride=1, padding=1)", "nn.Conv2d(6, 16, kernel_size=3, stride=1, padding=0)"),
                         ("nn.Linear(16 * 7 * 7, 120)", "nn.Linear(16 * 5 * 5, 120)")]},
        {"CNN_LeNet has the right number of parameters", "CNN_LeNet: layer output shapes"}, 92),
    "lenet_wrong_flatten": (
        {"lenet_class": [("x = torch.flatten(x, start_dim=1)", "x = x.permute(0, 2, 3, 1).flatten(start_dim=1)")]},
        {"CNN_LeNet: computes the intended function"}, 94),
    "cnn_average_pooling": (
        {"cnn_class": [("self.pool = nn.MaxPool2d(2)", "self.pool = nn.AvgPool2d(2)")]},
        {"CNN: computes the intended function"}, 94),
    "cnn_missing_third_pooling": (
        {"cnn_class": [("x = self.pool(F.relu(self.conv3(x)))", "x = F.relu(self.conv3(x))"),
                       ("nn.Linear(filters[2] * 3 * 3, 128)", "nn.Linear(filters[2] * 7 * 7, 128)")]},
        {"CNN has the right number of parameters", "CNN: layer output shapes", "CNN: computes the intended function"}, 86),
    "cnn_ignores_filters": (
        {"cnn_class": [("nn.Conv2d(1, filters[0],", "nn.Conv2d(1, 16,"),
                       ("nn.Conv2d(filters[0], filters[1],", "nn.Conv2d(16, 32,"),
                       ("nn.Conv2d(filters[1], filters[2],", "nn.Conv2d(32, 64,"),
                       ("nn.Linear(filters[2] * 3 * 3, 128)", "nn.Linear(64 * 3 * 3, 128)")]},
        {"CNN(filters=...) sizes its layers from filters"}, 96),
    "cnn_linear_ignores_filters": (
        {"cnn_class": [("nn.Linear(filters[2] * 3 * 3, 128)", "nn.Linear(64 * 3 * 3, 128)")]},
        {"CNN(filters=...) sizes its layers from filters"}, 96),
    "fc_returns_log_softmax": (
        {"fc_class": [("        return self.fc4(x)\n", "        return F.log_softmax(self.fc4(x), dim=1)\n")]},
        {"FC: computes the intended function"}, 94),
    "fc_sigmoid_activations": (
        {"fc_class": [("x = F.relu(self.fc1(x))", "x = torch.sigmoid(self.fc1(x))"),
                      ("x = F.relu(self.fc2(x))", "x = torch.sigmoid(self.fc2(x))"),
                      ("x = F.relu(self.fc3(x))", "x = torch.sigmoid(self.fc3(x))")]},
        {"FC: computes the intended function"}, 94),
    # Wrong widths padded to the intended count with layers that are identities under the grader's
    # initialisation: a batch norm without epsilon, ReLUs as torch.maximum with a parameter named bias.
    "fc_padded_with_identities": (
        {"fc_class": [("nn.Linear(784, 512)", "nn.Linear(784, 504)"), ("nn.Linear(512, 256)", "nn.Linear(504, 256)"),
                      ("nn.Linear(256, 128)", "nn.Linear(256, 152)"),
                      ("self.fc4 = nn.Linear(128, 10)\n",
                       "self.fc4 = nn.Linear(152, 10)\n        self.norm = nn.BatchNorm1d(504, eps=0.0)\n"
                       "        self.b1, self.b2, self.b3 = (nn.Module(), nn.Module(), nn.Module())\n"
                       "        for block, width in ((self.b1, 504), (self.b2, 256), (self.b3, 152)):\n"
                       "            block.bias = nn.Parameter(torch.zeros(width))\n"),
                      ("x = F.relu(self.fc1(x))", "x = torch.maximum(self.norm(self.fc1(x)), self.b1.bias)"),
                      ("x = F.relu(self.fc2(x))", "x = torch.maximum(self.fc2(x), self.b2.bias)"),
                      ("x = F.relu(self.fc3(x))", "x = torch.maximum(self.fc3(x), self.b3.bias)")]},
        {"FC has the right number of parameters", "FC: layer output shapes", "FC: computes the intended function",
         "FC: test accuracy after the grader's training"}, 80),
    "lenet_padded_with_identities": (
        {"lenet_class": [("nn.Linear(16 * 7 * 7, 120)", "nn.Linear(16 * 7 * 7, 110)"),
                         ("nn.Linear(120, 84)", "nn.Linear(110, 135)"),
                         ("self.fc3 = nn.Linear(84, 10)\n",
                          "self.fc3 = nn.Linear(135, 10)\n        self.norm2 = nn.BatchNorm2d(16, eps=0.0)\n"
                          "        self.norm = nn.BatchNorm1d(784, eps=0.0)\n"
                          "        self.b0, self.b2 = nn.Module(), nn.Module()\n"
                          "        self.b0.bias, self.b2.bias = nn.Parameter(torch.zeros(784)), nn.Parameter(torch.zeros(135))\n"),
                         ("x = self.pool(F.relu(self.conv2(x)))", "x = self.pool(F.relu(self.norm2(self.conv2(x))))"),
                         ("x = torch.flatten(x, start_dim=1)",
                          "x = torch.maximum(self.norm(torch.flatten(x, start_dim=1)), self.b0.bias)"),
                         ("x = F.relu(self.fc2(x))", "x = torch.maximum(self.fc2(x), self.b2.bias)")]},
        {"CNN_LeNet has the right number of parameters", "CNN_LeNet: layer output shapes",
         "CNN_LeNet: computes the intended function", "CNN_LeNet: test accuracy after the grader's training"}, 80),
    "cnn_batch_norm_without_parameters": (
        {"cnn_class": [("self.pool = nn.MaxPool2d(2)\n",
                        "self.pool = nn.MaxPool2d(2)\n        self.norm = nn.BatchNorm2d(filters[0], affine=False)\n"),
                       ("x = self.pool(F.relu(self.conv1(x)))", "x = self.pool(F.relu(self.norm(self.conv1(x))))")]},
        {"CNN has the right number of parameters", "CNN: computes the intended function",
         "CNN: test accuracy after the grader's training"}, 84),
    "cnn_hidden_width_from_filters": (
        {"cnn_class": [("nn.Linear(filters[2] * 3 * 3, 128)", "nn.Linear(filters[2] * 3 * 3, 2 * filters[2])"),
                       ("nn.Linear(128, 10)", "nn.Linear(2 * filters[2], 10)")]},
        {"CNN(filters=...) sizes its layers from filters"}, 96),
    "loop_no_zero_grad": ({"train_model": [(STEP_10, "")]}, {RESET, WEIGHTS}, 90),
    "loop_zero_grad_once_per_epoch": (
        {"train_model": [(STEP_10, ""), ("        model.train()\n", "        model.train()\n        opt.zero_grad()\n")]},
        {RESET, WEIGHTS}, 90),
    "loop_no_step": ({"train_model": [(STEP_9, "")]}, {STEP, WEIGHTS, RESET}, 85),
    "loop_clears_between_backward_and_step": (
        {"train_model": [(STEP_9 + STEP_10, STEP_10 + STEP_9)]}, {STEP, WEIGHTS, RESET}, 85),
    "loop_step_before_backward": (
        {"train_model": [("            loss.backward()                     # step 8: backward pass\n" + STEP_9,
                          STEP_9 + "            loss.backward()\n")]}, {STEP, WEIGHTS, RESET}, 85),
    "loop_backward_twice": (
        {"train_model": [("loss.backward()  ", "loss.backward(retain_graph=True); loss.backward()  ")]},
        {WEIGHTS}, 94),
    "loop_loss_divided_by_batch_size": ({"train_model": [("loss = crit(logits, y)", "loss = crit(logits, y) / len(y)")]},
                                        {WEIGHTS}, 94),
    "loop_loss_on_probabilities": (
        {"train_model": [("loss = crit(logits, y)", "loss = crit(logits.softmax(dim=1), y)")]}, {WEIGHTS}, 94),
    "loop_train_and_eval_swapped": (
        {"train_model": [("        model.train()\n", "        model.eval()\n"),
                         ("        ### BEGIN SOLUTION\n        model.eval()\n", "        ### BEGIN SOLUTION\n        model.train()\n")]},
        {WEIGHTS, EVAL_MODE}, 91),
    "loop_step_once_per_epoch": (
        {"train_model": [(STEP_9 + STEP_10, ""), ("            logits = model(x)", "            opt.zero_grad()\n            logits = model(x)"),
                         ("        ### BEGIN SOLUTION\n        model.eval()\n", "        opt.step()\n        ### BEGIN SOLUTION\n        model.eval()\n")]},
        {STEP, WEIGHTS}, 89),
    "loop_step_every_other_batch": (
        {"train_model": [(STEP_9 + STEP_10, "            if iteration % 2 == 1:\n                opt.step()\n                opt.zero_grad()\n")]},
        {STEP, RESET, WEIGHTS}, 85),
    "loop_leftover_break_in_training": (
        {"train_model": [(STEP_10, STEP_10 + "            if iteration == 99:\n                break\n")]}, {EPOCHS}, 96),
    "loop_leftover_break_in_evaluation": (
        {"train_model": [("            for x, y in dl_te:\n",
                          "            for i, (x, y) in enumerate(dl_te):\n                if i == 10:\n                    break\n")]},
        {RETURNED}, 97),
    "loop_accuracy_appended_twice": (
        {"train_model": [("        history[\"test_acc\"].append(test_acc)\n", "        history[\"test_acc\"].append(test_acc)\n" * 2)]},
        {RETURNED}, 97),
    "loop_accuracy_floor_division": (
        {"train_model": [(TEST_ACC, "        test_acc = correct // len(dl_te.dataset)\n")]}, {RETURNED, EVAL_MODE}, 94),
    "loop_ignores_epochs": ({"train_model": [("for epoch in range(epochs):", "for epoch in range(2):")]}, {EPOCHS}, 96),
    "loop_one_epoch_too_many": (
        {"train_model": [("for epoch in range(epochs):", "for epoch in range(epochs + 1):")]}, {EPOCHS}, 96),
    "loop_eval_in_train_mode": ({"train_model": [("        model.eval()\n", "")]}, {EVAL_MODE}, 97),
    "loop_train_mode_set_once": (
        {"train_model": [("    for epoch in range(epochs):\n        model.train()\n",
                          "    model.train()\n    for epoch in range(epochs):\n")]}, {WEIGHTS}, 94),
    "loop_learning_rate_halved_each_epoch": (
        {"train_model": [("    for epoch in range(epochs):\n        model.train()\n",
                          "    schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)\n"
                          "    for epoch in range(epochs):\n        if epoch:\n            schedule.step()\n"
                          "        model.train()\n")]}, {WEIGHTS}, 94),
    "loop_evaluates_on_training_data": (
        {"train_model": [("            for x, y in dl_te:\n", "            for x, y in dl_tr:\n"),
                         (TEST_ACC, "        test_acc = correct / len(dl_tr.dataset)\n")]}, {RETURNED}, 97),
    "loop_own_test_loader_in_train_mode": (
        {"train_model": [("        model.eval()\n", ""),
                         ("            for x, y in dl_te:\n",
                          "            for x, y in torch.utils.data.DataLoader(dl_te.dataset, batch_size=500):\n")]},
        {EVAL_MODE}, 97),
    "loop_accuracy_in_percent": (
        {"train_model": [(TEST_ACC, "        test_acc = 100 * correct / len(dl_te.dataset)\n")]}, {RETURNED}, 97),
    "loop_accuracy_of_last_batch": (
        {"train_model": [("                correct += (model(x).argmax(dim=1) == y).sum().item()\n",
                          "                correct = (model(x).argmax(dim=1) == y).sum().item()\n"),
                         (TEST_ACC, "        test_acc = correct / len(y)\n")]}, {RETURNED}, 97),
    "loop_accuracy_over_batches": (
        {"train_model": [(TEST_ACC, "        test_acc = correct / len(dl_te)\n")]}, {RETURNED, EVAL_MODE}, 94),
    "optimizer_with_weight_decay": (
        {"loss_opt": [("lr=0.1)", "lr=0.1, weight_decay=5e-4)")]},
        {"opt is SGD with learning rate 0.1 over model_fc's parameters"}, 97),
    "cnn_flatten_size_fixed": (
        {"cnn_class": [("x = torch.flatten(x, start_dim=1)", "x = x.view(-1, 64 * 3 * 3)")]},
        {"CNN(filters=...) sizes its layers from filters"}, 96),
    "lenet_pooling_stride_one": (
        {"lenet_class": [("self.pool = nn.MaxPool2d(2)", "self.pool = nn.MaxPool2d(2, stride=1)"),
                         ("nn.Linear(16 * 7 * 7, 120)", "nn.Linear(16 * 26 * 26, 120)")]},
        {"CNN_LeNet has the right number of parameters", "CNN_LeNet: layer output shapes",
         "CNN_LeNet: computes the intended function", "CNN_LeNet: test accuracy after the grader's training"}, 80),
    "wrong_loss": (
        {"loss_opt": [("criterion = nn.CrossEntropyLoss()", "criterion = nn.MultiMarginLoss()")]},
        {"criterion is the cross-entropy loss"}, 98),
    "loss_that_raises": (
        {"loss_opt": [("criterion = nn.CrossEntropyLoss()", "criterion = nn.MSELoss()")]},
        {"criterion is the cross-entropy loss"}, 98),
    "wrong_learning_rate": (
        {"loss_opt": [("lr=0.1)", "lr=0.01)")]},
        {"opt is SGD with learning rate 0.1 over model_fc's parameters"}, 97),
    "optimizer_with_momentum": (
        {"loss_opt": [("lr=0.1)", "lr=0.1, momentum=0.9)")]},
        {"opt is SGD with learning rate 0.1 over model_fc's parameters"}, 97),
    "wrong_parameter_answer": (
        {"fc_params": [("(784 * 512 + 512) + (512 * 256 + 256)", "(784 * 512) + (512 * 256 + 256)")]},
        {"your answer: parameters of FC"}, 98),
    "answer_by_counting_function": (
        {"fc_params": [("fc_num_params = (784 * 512 + 512)", "fc_num_params = count_parameters(model_fc)\n_unused = (784 * 512 + 512)")]},
        {"your answer: parameters of FC"}, 98),
    "answer_by_numel_sum": (
        {"lenet_params": [("lenet_num_params = ((6 * 1 * 3 * 3 + 6)", "lenet_num_params = sum(p.numel() for p in model_lenet.parameters())\n_unused = ((6 * 1 * 3 * 3 + 6)")]},
        {"your answer: parameters of CNN_LeNet"}, 98),
}


@pytest.fixture(scope="module")
def mnist():
    data = MnistTensors()
    data.load()
    return data


def test_the_points_table_is_the_graders():
    assert sum(POINTS.values()) == 100 and all(score == 100 - sum(POINTS[name] for name in failing)
                                               for _, failing, score in BUGS.values())


@pytest.mark.parametrize("bug", list(BUGS))
def test_single_bug_loses_exactly_its_points(tmp_path, mnist, bug):
    edits, failing, score = BUGS[bug]
    verdict = grade(edited(SOLUTION, tmp_path, bug, edits), mnist=mnist)
    failed = {c.name for c in verdict.checks if not c.passed}
    assert failed == failing, [(c.name, c.reason) for c in verdict.checks if not c.passed]
    assert verdict.score == score
    assert {c.name: c.max_score for c in verdict.checks} == POINTS
    assert all(c.reason for c in verdict.checks if not c.passed)
