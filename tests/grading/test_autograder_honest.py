"""Correct code written another way: every variant earns every point, as quickly as the solution."""

from __future__ import annotations

import copy
import time

import nbformat
import pytest

from autograder.context import MnistTensors
from autograder.engine import grade
from submissions import SOLUTION, edited

pytestmark = [pytest.mark.slow, pytest.mark.extended]

STEP_10 = "            opt.zero_grad()                     # step 10: reset the gradients\n"
EVALUATION = ("        with torch.no_grad():\n            for x, y in dl_te:\n                x, y = x.to(device), y.to(device)\n"
              "                correct += (model(x).argmax(dim=1) == y).sum().item()\n")
FC_FORWARD = ("        x = F.relu(self.fc1(x))\n        x = F.relu(self.fc2(x))\n        x = F.relu(self.fc3(x))\n"
              "        return self.fc4(x)\n")

VARIANTS = {
    "relu_as_clamp": {"fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x).clamp(min=0)")]},
    "relu_as_maximum": {"fc_class": [("x = F.relu(self.fc3(x))", "x = torch.maximum(self.fc3(x), torch.zeros(1))")]},
    "relu_written_by_hand": {
        "fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x)\n        x = x * (x > 0)")],
        "lenet_class": [("x = F.relu(self.fc1(x))", "x = self.fc1(x)\n        x = torch.where(x > 0, x, 0.0)")],
        "cnn_class": [("x = F.relu(self.fc1(x))", "x = self.fc1(x)\n        x = torch.max(x, torch.zeros_like(x))")]},
    "fc_as_sequential": {"fc_class": [
        ("        self.fc1 = nn.Linear(784, 512)\n", "        self.layers = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),\n"
         "                                    nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))\n"),
        ("        self.fc2 = nn.Linear(512, 256)\n        self.fc3 = nn.Linear(256, 128)\n        self.fc4 = nn.Linear(128, 10)\n", ""),
        (FC_FORWARD, "        return self.layers(x)\n")]},
    "fc_layers_also_in_a_module_list": {"fc_class": [
        ("        self.fc4 = nn.Linear(128, 10)\n", "        self.fc4 = nn.Linear(128, 10)\n"
         "        self.hidden = nn.ModuleList([self.fc1, self.fc2, self.fc3])   # the same layers, for loops\n")]},
    "lazy_linear_layers": {
        "fc_class": [("self.fc1 = nn.Linear(784, 512)", "self.fc1 = nn.LazyLinear(512)")],
        "cnn_class": [("self.fc1 = nn.Linear(filters[2] * 3 * 3, 128)", "self.fc1 = nn.LazyLinear(128)")]},
    "lenet_functional_pool_and_view": {"lenet_class": [
        ("x = self.pool(F.relu(self.conv1(x)))", "x = F.max_pool2d(torch.relu(self.conv1(x)), kernel_size=2, stride=2)"),
        ("x = torch.flatten(x, start_dim=1)", "x = x.view(x.size(0), -1)")]},
    "cnn_blocks_and_flatten_layer": {"cnn_class": [
        ("        self.pool = nn.MaxPool2d(2)\n        self.fc1", "        self.pool = nn.MaxPool2d(2)\n        self.flatten = nn.Flatten()\n        self.fc1"),
        ("x = torch.flatten(x, start_dim=1)", "x = self.flatten(x)")]},
    "model_zero_grad": {"train_model": [(STEP_10, "            model.zero_grad()\n")]},
    "grad_set_to_none": {"train_model": [(STEP_10, "            for p in model.parameters():\n                p.grad = None\n")]},
    "zero_grad_keeping_tensors": {"train_model": [(STEP_10, "            opt.zero_grad(set_to_none=False)\n")]},
    "zero_grad_before_forward": {"train_model": [
        (STEP_10, ""), ("            logits = model(x)                   # step 6", "            opt.zero_grad()\n            logits = model(x)  # step 6")]},
    "evaluation_in_big_batches": {"train_model": [
        ("            for x, y in dl_te:\n", "            for x, y in torch.utils.data.DataLoader(dl_te.dataset, batch_size=1000):\n")]},
    "train_accuracy_pass_and_extra_history": {"train_model": [
        (EVALUATION, EVALUATION + "            seen = sum((model(x.to(device)).argmax(1) == y.to(device)).sum().item() for x, y in dl_tr)\n"
         "        history.setdefault('train_acc', []).append(seen / len(dl_tr.dataset))\n")]},
    "test_loss_with_crit": {"train_model": [
        (EVALUATION, EVALUATION.replace("                correct +=", "                test_loss = crit(model(x), y).item()\n                correct +="))]},
    "batches_drawn_one_by_one": {"train_model": [(
        "        for iteration, (x, y) in enumerate(dl_tr):\n",
        "        batches = iter(dl_tr)\n        for iteration in range(len(dl_tr)):\n            x, y = next(batches)\n")]},
    "settings_of_the_data_cell": {"train_model": [(
        "    log_every = 100   # iterations between two progress lines\n",
        "    log_every = 12800 // BATCH_SIZE   # every 12,800 images\n")]},
    "notebook_progress_bar": {"train_model": [
        ("        for iteration, (x, y) in enumerate(dl_tr):", "        from tqdm.notebook import tqdm\n        for iteration, (x, y) in enumerate(tqdm(dl_tr, leave=False)):")]},
    "tqdm_progress_bar": {"train_model": [
        ("        for iteration, (x, y) in enumerate(dl_tr):", "        from tqdm.auto import tqdm\n        for iteration, (x, y) in enumerate(tqdm(dl_tr, leave=False)):")]},
    "thread_left_running": {"train_model": [
        ("    device = next(model.parameters()).device\n",
         "    import threading, time\n    threading.Thread(target=time.sleep, args=(600,)).start()\n    device = next(model.parameters()).device\n")]},
    "accuracy_rounded_for_display": {"train_model": [
        ("        test_acc = correct / len(dl_te.dataset)\n", "        test_acc = round(correct / len(dl_te.dataset), 4)\n")]},
    "history_plotted_by_train_model": {"train_model": [("    return history", "    plot_history(history, \"progress\")\n    return history")]},
    "accuracies_returned_as_a_tensor": {"train_model": [
        ("    return history", "    return {**history, \"test_acc\": torch.tensor(history[\"test_acc\"])}")]},
    "criterion_as_function": {"loss_opt": [("criterion = nn.CrossEntropyLoss()", "def criterion(logits, labels):\n    return F.cross_entropy(logits, labels)")]},
    "optimizer_positional_lr": {"loss_opt": [("lr=0.1)", "0.1)")]},
    "evaluation_with_gradients_on": {"train_model": [
        ("        with torch.no_grad():\n            for x, y in dl_te:", "        if True:\n            for x, y in dl_te:")]},
    "batch_accuracy_after_the_step_in_train_mode": {"train_model": [
        (STEP_10, STEP_10 + "            batch_acc = (model(x).argmax(dim=1) == y).float().mean().item()\n")]},
    "loss_with_keyword_target": {"train_model": [("loss = crit(logits, y)", "loss = crit(logits, target=y)")]},
    "forward_moves_input_to_the_weights_device": {"fc_class": [
        ("        x = F.relu(self.fc1(x))\n", "        x = x.to(self.fc1.weight.device, dtype=torch.float32)\n"
                                          "        x = F.relu(self.fc1(x))\n")]},
    "lenet_padding_spelled_out": {"lenet_class": [
        ("nn.Conv2d(1, 6, kernel_size=3, stride=1, padding=1)", "nn.Conv2d(1, 6, kernel_size=(3, 3), padding=(1, 1))"),
        ("nn.Conv2d(6, 16, kernel_size=3, stride=1, padding=1)", "nn.Conv2d(6, 16, 3, padding='same')")]},
    "relu_in_place_modules": {"cnn_class": [
        ("        self.pool = nn.MaxPool2d(2)\n        self.fc1", "        self.pool = nn.MaxPool2d(2)\n        self.act = nn.ReLU(inplace=True)\n        self.fc1"),
        ("x = self.pool(F.relu(self.conv2(x)))", "x = self.pool(self.act(self.conv2(x)))")]},
    "answer_widths_unpacked": {"fc_params": [(
        "fc_num_params = (784 * 512 + 512) + (512 * 256 + 256) + (256 * 128 + 128) + (128 * 10 + 10)",
        "n_in, h1, h2, h3, n_out = 784, 512, 256, 128, 10\n"
        "fc_num_params = (n_in * h1 + h1) + (h1 * h2 + h2) + (h2 * h3 + h3) + (h3 * n_out + n_out)")]},
    "answer_with_named_layers": {"lenet_params": [(
        "lenet_num_params = ((6 * 1 * 3 * 3 + 6) + (16 * 6 * 3 * 3 + 16)\n                    + (784 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10))",
        "conv1 = 6 * 1 * 3 * 3 + 6\nconv2 = 16 * 6 * 3 * 3 + 16\nfc = (784 * 120 + 120) + (120 * 84 + 84)\nfc += 84 * 10 + 10\n"
        "lenet_num_params = conv1 + conv2 + fc\nprint(lenet_num_params)")]},
}


@pytest.fixture(scope="module")
def mnist():
    data = MnistTensors()
    data.load()
    return data


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_honest_variant_earns_every_point(tmp_path, mnist, variant):
    started = time.monotonic()
    verdict = grade(edited(SOLUTION, tmp_path, variant, VARIANTS[variant]), mnist=mnist)
    assert verdict.score == 100, [(c.name, c.reason) for c in verdict.checks if not c.passed] + verdict.notes
    assert not verdict.notes, verdict.notes
    assert time.monotonic() - started < 120  # a thread left running must not hold the grading to its limit


def test_an_answer_cell_split_in_two_earns_every_point(tmp_path, mnist):
    """JupyterLab's split (and copy and paste) gives both parts the cell's nbgrader id: a helper split off
    into a cell of its own above ``train_model`` stays defined, an abandoned draft that does not parse
    costs nothing, and the verdict says what it ran."""
    path = edited(SOLUTION, tmp_path, "split", {"train_model": [
        ("correct += (model(x).argmax(dim=1) == y).sum().item()", "correct += count_correct(model, x, y)")]})
    notebook = nbformat.read(path, as_version=4)
    index = next(i for i, cell in enumerate(notebook.cells)
                 if cell.metadata.get("nbgrader", {}).get("grade_id") == "train_model")
    helper = copy.deepcopy(notebook.cells[index])
    helper.source = "def count_correct(model, x, y):\n    return (model(x).argmax(dim=1) == y).sum().item()\n"
    helper["id"] = "split-off-helper"
    draft = copy.deepcopy(helper)
    draft.source, draft["id"] = "def train_model(model, crit, opt, dl_tr, dl_te, epochs):\n    loss = crit(model(x)\n", "draft"
    notebook.cells[index:index] = [draft, helper]
    nbformat.write(notebook, path)
    verdict = grade(path, mnist=mnist)
    assert verdict.score == 100, [(c.name, c.reason) for c in verdict.checks if not c.passed] + verdict.notes
    assert any("3 cells of the notebook carry the id of the answer cell train_model" in note for note in verdict.notes)


def test_saved_outputs_play_no_part(tmp_path, mnist):
    """A notebook made large by its outputs (plots, long logs) is graded on its code alone."""
    nb = nbformat.read(SOLUTION, as_version=4)
    code = next(cell for cell in nb.cells if cell.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="training log line\n" * 1_500_000)]
    path = tmp_path / "big.ipynb"
    nbformat.write(nb, path)
    assert path.stat().st_size > 25 * 1024**2
    assert grade(path, mnist=mnist).score == 100
