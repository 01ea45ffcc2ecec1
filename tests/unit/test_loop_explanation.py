"""The loop probe's explanation, on loops run in this process (no sandbox, no MNIST): each known single
bug is recognised as itself, correct loops in other styles as correct, and anything else as nothing."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from autograder.probes import Evaluation, Training, accuracy, explain_loop, trajectory
from autograder.sandbox.harness.contract import LOOP_EPOCHS, PROBE_BATCH, PROBE_LR
from autograder.sandbox.harness.problems import probe_problem

TOLERANCE = 1e-4


def _evaluate(model, loader, mode="eval", part="all", scale=1.0):
    model.train(mode == "train")
    batches = list(loader)
    batches = {"all": batches, "first": batches[:1], "last": batches[-1:]}[part]
    correct = seen = 0
    for x, y in batches:
        correct += (model(x).argmax(dim=1) == y).sum().item()
        seen += len(y)
    return scale * correct / seen


def make_loop(clear="after_step", step="once", backward="once", epochs_offset=0, train_each_epoch=True,
              metrics=False, **evaluation):
    """A ``train_model`` with the given habits (the defaults are the textbook loop)."""
    def train_model(model, crit, opt, dl_tr, dl_te, epochs):
        history = {"test_acc": []}
        model.train()
        for _ in range(epochs + epochs_offset):
            if train_each_epoch:
                model.train()
            if clear == "per_epoch":
                opt.zero_grad()
            for x, y in dl_tr:
                if clear == "before_forward":
                    model.zero_grad()
                logits = model(x)
                loss = crit(input=logits, target=y)
                if step == "before_backward":
                    opt.step()
                loss.backward(retain_graph=backward == "twice")
                if backward == "twice":
                    loss.backward()
                if clear == "between":
                    opt.zero_grad()
                if step in ("once", "twice"):
                    opt.step()
                if step == "twice":
                    opt.step()
                if clear == "after_step":
                    for p in model.parameters():
                        p.grad = None
                if metrics:  # a batch accuracy after the step, with gradients on and in train mode
                    (model(x).argmax(1) == y).float().mean()
            with torch.no_grad():
                history["test_acc"].append(_evaluate(model, dl_te, **evaluation))
        return history
    return train_model


def explain(train_model, seed=11):
    effects = []
    for epochs in LOOP_EPOCHS:
        problem = probe_problem(seed, epochs)
        net = problem.network()
        train = DataLoader(TensorDataset(problem.train_x, problem.train_y), batch_size=PROBE_BATCH)
        test = DataLoader(TensorDataset(problem.test_x, problem.test_y), batch_size=PROBE_BATCH)
        history = train_model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=PROBE_LR),
                              train, test, epochs)
        effects.append((epochs, explain_loop(problem, net.state_dict(), history.get("test_acc"), TOLERANCE)))
    return effects


@pytest.mark.parametrize("habits", [{}, {"clear": "before_forward"}, {"metrics": True},
                                    {"clear": "before_forward", "metrics": True}])
def test_correct_loops_are_recognised_whatever_their_style(habits):
    for epochs, effect in explain(make_loop(**habits)):
        assert effect is not None
        assert (effect.training, effect.epochs_trained, effect.evaluation) == (Training.CORRECT, epochs, Evaluation.CORRECT)


@pytest.mark.parametrize("habits, training", [
    ({"clear": "never"}, Training.NO_RESET),
    ({"clear": "per_epoch"}, Training.RESET_PER_EPOCH),
    ({"clear": "between"}, Training.NO_UPDATE),
    ({"step": "never"}, Training.NO_UPDATE),
    ({"step": "before_backward"}, Training.NO_UPDATE),
    ({"backward": "twice"}, Training.TWICE),
    ({"step": "twice"}, Training.TWICE),
    ({"train_each_epoch": False}, Training.EVAL_AFTER_FIRST),
])
def test_each_training_bug_is_recognised_as_itself(habits, training):
    same_in_one_epoch = [{Training.NO_RESET, Training.RESET_PER_EPOCH}, {Training.CORRECT, Training.EVAL_AFTER_FIRST}]
    for epochs, effect in explain(make_loop(**habits)):
        assert effect is not None and effect.evaluation is Evaluation.CORRECT
        assert effect.training is training or (
            epochs == 1 and any({effect.training, training} <= same for same in same_in_one_epoch))
    assert effect.training is training  # the longest call tells them apart


@pytest.mark.parametrize("habits, evaluation", [
    ({"mode": "train"}, Evaluation.TRAIN_MODE),
    ({"part": "first"}, Evaluation.FIRST_BATCH),
    ({"part": "last"}, Evaluation.LAST_BATCH),
    ({"scale": 100.0}, Evaluation.PERCENT),
])
def test_each_evaluation_bug_is_recognised_as_itself(habits, evaluation):
    """On one probe a bug may happen to return the right accuracies; never on all of them."""
    effects = [effect for _, effect in explain(make_loop(**habits))]
    assert all(effect is not None and effect.training is Training.CORRECT for effect in effects)
    assert evaluation in {effect.evaluation for effect in effects} <= {evaluation, Evaluation.CORRECT}


@pytest.mark.parametrize("offset", [1, -1])
def test_the_epochs_really_trained_are_counted(offset):
    for epochs, effect in explain(make_loop(epochs_offset=offset)):
        if epochs + offset == 0:
            assert effect.training is Training.NO_UPDATE
        else:
            assert effect.training is Training.CORRECT and effect.epochs_trained == epochs + offset


def test_a_loop_that_trains_otherwise_is_explained_by_nothing():
    def train_model(model, crit, opt, dl_tr, dl_te, epochs):
        for group in opt.param_groups:
            group["lr"] = 0.05          # a different learning rate: no known loop does this
        return make_loop()(model, crit, opt, dl_tr, dl_te, epochs)
    assert all(effect is None for _, effect in explain(train_model))


def test_forged_accuracies_explain_nothing():
    def train_model(model, crit, opt, dl_tr, dl_te, epochs):
        make_loop()(model, crit, opt, dl_tr, dl_te, epochs)
        return {"test_acc": [0.333] * epochs}
    assert all(effect is not None and effect.evaluation is None for _, effect in explain(train_model))


def test_every_submission_s_probes_tell_the_evaluations_apart():
    """On many seeds, no way of measuring returns the correct loop's accuracies on every probe: a buggy
    evaluation never passes for a correct one by chance."""
    for seed in range(25):
        identical = {evaluation: True for evaluation in Evaluation if evaluation is not Evaluation.CORRECT}
        for epochs in LOOP_EPOCHS:
            problem = probe_problem(seed, epochs)
            states = trajectory(problem, Training.CORRECT, epochs)
            correct = [accuracy(problem, states[k], Evaluation.CORRECT) for k in range(1, epochs + 1)]
            for evaluation in identical:
                identical[evaluation] &= [accuracy(problem, states[k], evaluation) for k in range(1, epochs + 1)] == correct
        assert not any(identical.values()), (seed, identical)
