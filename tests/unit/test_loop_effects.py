"""The loop checks' verdicts on loops run in this process (no sandbox, no MNIST): each check judges its own
question by an effect of its own, so each bug, known or not, costs exactly the checks it breaks."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from autograder.loop_judge import LoopVerdicts, judge_loop
from autograder.loop_trace import TraceError, read_trace
from autograder.sandbox.harness.contract import LOOP_EPOCHS, TRACE_TEST, TRACE_TRAIN
from autograder.sandbox.harness.probes import Trace, TracedLoader, returned_accuracies, traced_call
from autograder.sandbox.harness.problems import flat_state, probe_optimizer, probe_problem

torch.set_num_threads(1)    # the probe's tensors are tiny: threads only add contention
TOLERANCE = 1e-4
CHECKS = ("weights", "steps", "reset", "epochs", "mode", "returned")


def evaluate(model, loader, mode="eval", divide="/", test_stop=None, scale=1.0, digits=None):
    model.train(mode == "train")
    correct = seen = 0
    with torch.no_grad():
        for index, (x, y) in enumerate(loader):
            if test_stop is not None and index == test_stop:
                break
            correct += (model(x).argmax(dim=1) == y).sum().item()
            seen += len(y)
    seen = len(loader.dataset) if divide == "dataset" else seen
    value = scale * (correct // seen if divide == "//" else correct / seen)
    return value if digits is None else round(value, digits)


def drawn(loader, draw):
    """``(index, batch)`` over ``loader``: from a for loop, or one batch at a time, never asking for more
    than ``len(loader)`` (the loader's iterator is never run out)."""
    if draw == "next":
        batches = iter(loader)
        return ((index, next(batches)) for index in range(len(loader)))
    if draw == "zip":
        return zip(range(len(loader)), loader, strict=False)   # stops at the range, leaving the loader unfinished
    return enumerate(loader)


def make_loop(loss=lambda crit, out, y: crit(out, y), clear="after_step", step="once", train_mode="train",
              stop=None, clip=None, when="after", twice=False, step_in_test=False, offset=0, own_test_loader=False,
              metrics_pass=False, decay=None, fade=None, on_training_data=False, draw="for", **evaluation):
    """A ``train_model`` with the given habits (the defaults are the textbook loop)."""
    def train_model(model, crit, opt, dl_tr, dl_te, epochs):
        history = {"test_acc": []}
        schedule = torch.optim.lr_scheduler.StepLR(opt, 1, decay) if decay else None
        # fade: the learning rate falls batch by batch to this share of its start (a one-cycle tail)
        fading = torch.optim.lr_scheduler.ExponentialLR(opt, fade ** (1 / (len(dl_tr) * epochs))) if fade else None
        for _ in range(epochs + offset):
            if when == "before":
                history["test_acc"].append(evaluate(model, dl_te, **evaluation))
            model.train(train_mode == "train")
            if clear == "per_epoch":
                opt.zero_grad()
            for index, (x, y) in drawn(dl_tr, draw):
                if stop is not None and index == stop % len(dl_tr):   # -1: the last batch
                    break
                if clear == "before_forward":
                    opt.zero_grad()
                out = model(x)
                if step == "before_backward":
                    opt.step()
                loss(crit, out, y).backward()
                if clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), clip)
                if clear == "between":
                    opt.zero_grad()
                if step == "once" or step == "twice" or (step == "every_other" and index % 2 == 1):
                    opt.step()
                    if step == "twice":
                        opt.step()
                    if clear in ("after_step", "after_step_only"):
                        opt.zero_grad()
                if clear == "after_step":
                    opt.zero_grad()
                if fading:
                    fading.step()
            if step == "per_epoch":
                opt.step()
            if schedule:
                schedule.step()
            if when == "after":
                if step_in_test:
                    for _ in dl_te:
                        opt.step()
                if metrics_pass:    # a train accuracy, over the training loader, changing nothing
                    evaluate(model, dl_tr)
                tests = dl_tr if on_training_data else DataLoader(dl_te.dataset, batch_size=1000) \
                    if own_test_loader else dl_te
                history["test_acc"].append(evaluate(model, tests, **evaluation))
                if twice:
                    history["test_acc"].append(evaluate(model, dl_te, **evaluation))
        return history
    return train_model


def verdicts(train_model, seed=11, calls=LOOP_EPOCHS) -> list[LoopVerdicts]:
    """As the grader judges each call: on the accuracies it returned, or where it raised, on its trace
    alone (``check_training_loop``)."""
    found = []
    for epochs in calls:
        history, trace, error = traced_call(train_model, seed, epochs)
        judged = judge_loop(probe_problem(seed, epochs), read_trace(trace), returned_accuracies(history), TOLERANCE)
        found.append(judged.after_error(f"{type(error).__name__}: {error}") if error else judged)
    return found


def failed(train_model, seed=11, calls=LOOP_EPOCHS) -> set[str]:
    """The checks that fail on any of the calls."""
    return {check for v in verdicts(train_model, seed, calls) for check in CHECKS if getattr(v, check) is not None}


@pytest.mark.parametrize("habits", [{}, {"clear": "before_forward"}, {"clip": 1e6},
                                    {"own_test_loader": True, "metrics_pass": True}, {"digits": 4}, {"digits": 3},
                                    {"draw": "next"}, {"draw": "zip"}])
def test_correct_loops_pass_every_check(habits):
    assert failed(make_loop(**habits)) == set()


@pytest.mark.parametrize("habits, lost", [
    ({"loss": lambda crit, out, y: crit(out, y) / len(y)}, {"weights"}),
    ({"loss": lambda crit, out, y: crit(out.softmax(dim=1), y)}, {"weights"}),
    ({"loss": lambda crit, out, y: 2 * crit(out, y)}, {"weights"}),
    ({"clip": 0.01}, {"weights"}),
    ({"train_mode": "eval", "mode": "train"}, {"weights", "mode"}),
    ({"step": "per_epoch", "clear": "before_forward"}, {"steps", "weights"}),
    ({"step": "every_other", "clear": "after_step_only"}, {"steps", "reset", "weights"}),
    ({"step": "twice"}, {"steps", "weights"}),
    ({"clear": "never"}, {"reset", "weights"}),
    ({"clear": "per_epoch"}, {"reset", "weights"}),
    ({"clear": "between"}, {"steps", "reset", "weights"}),
    ({"step_in_test": True, "clear": "before_forward"}, {"steps", "weights"}),
    ({"when": "before"}, {"returned"}),
    ({"twice": True}, {"returned"}),
    ({"divide": "//"}, {"returned", "mode"}),
    ({"scale": 100.0}, {"returned"}),
    ({"scale": 100.0, "digits": 2}, {"returned"}),
    ({"stop": 100}, {"epochs"}),
    ({"stop": 100, "draw": "next"}, {"epochs"}),
    ({"stop": -1, "draw": "next"}, {"epochs", "steps"}),
    ({"on_training_data": True}, {"returned"}),
    ({"own_test_loader": True, "mode": "train"}, {"mode"}),
    ({"test_stop": 10}, {"returned"}),
    ({"test_stop": 10, "divide": "dataset"}, {"returned"}),
    ({"offset": 1}, {"epochs"}),
    ({"offset": 1, "metrics_pass": True}, {"epochs"}),
])
def test_each_bug_costs_the_checks_it_breaks(habits, lost):
    """Judged on one call of one epoch (the checks judge every call alike), on a seed of its own."""
    assert failed(make_loop(**habits), seed=len(str(habits)), calls=(1,)) == lost


@pytest.mark.parametrize("habits", [{"decay": 0.5}, {"decay": 3.0, "clear": "before_forward"}, {"fade": 1e-5}])
def test_a_learning_rate_schedule_costs_the_weights_only(habits):
    """A learning rate that changes between epochs (the assignment asks for none): the steps and the
    reset are read from the optimizer's momentum, which no learning rate changes."""
    assert failed(make_loop(**habits), seed=len(str(habits))) == {"weights"}


def raising(where):
    """A correct loop, but for a slip that raises: in the evaluation after the first epoch, in the last
    line, or in the first batch, before any step."""
    loop = make_loop()

    def train_model(model, crit, opt, dl_tr, dl_te, epochs):
        if where == "first batch":
            for x, _ in dl_tr:
                model(x).item()     # a tensor of many values has no item()
        loop(model, crit, opt, dl_tr, dl_te, 1)   # a correct first epoch
        if where == "evaluation":
            correct = 0
            correct += (model(dl_te.dataset.tensors[0]).argmax(1) == 0).sum().item   # the () forgotten
        return histroy  # noqa: F821 - the slip a student makes in the last line
    return train_model


@pytest.mark.parametrize("where, lost", [("evaluation", {"epochs", "mode", "returned"}),
                                         ("last line", {"epochs", "mode", "returned"}),
                                         ("first batch", set(CHECKS))])
def test_an_error_after_correct_steps_costs_only_what_they_do_not_show(where, lost):
    """train_model raised: the passes it made before are judged on their own (the weights, the steps and the
    reset of a correct first epoch still count); every lost check says what was raised."""
    found = verdicts(raising(where))
    assert {check for v in found for check in CHECKS if getattr(v, check) is not None} == lost
    assert all("; it raised " in reason for v in found for check in CHECKS
               if (reason := getattr(v, check)) is not None)


def test_an_error_in_the_last_line_of_a_full_call_costs_the_returned_accuracies_only():
    found = verdicts(raising("last line"), calls=(1,))[0]
    assert {check for check in CHECKS if getattr(found, check) is not None} == {"mode", "returned"}


@pytest.mark.parametrize("container", [lambda values: __import__("numpy").array(values), torch.tensor, tuple])
def test_accuracies_returned_as_an_array_count(container):
    loop = make_loop()

    def train_model(model, crit, opt, dl_tr, dl_te, epochs):
        history = loop(model, crit, opt, dl_tr, dl_te, epochs)
        return {"test_acc": container(history["test_acc"])}
    assert failed(train_model) == set()


def test_a_loop_that_never_draws_a_training_batch_loses_the_training_checks():
    def train_model(model, crit, opt, dl_tr, dl_te, epochs):
        return {"test_acc": [evaluate(model, dl_te) for _ in range(epochs)]}
    found = verdicts(train_model, calls=(1,))[0]
    assert all(getattr(found, check) for check in ("weights", "steps", "reset", "epochs"))
    assert found.mode is None and found.returned is not None


def test_forged_states_earn_only_what_the_grader_recomputes():
    """A trace whose states were shifted after the fact: the replayed epoch and the accuracies no longer
    match, whatever the trace claims."""
    problem = probe_problem(5, 2)
    net = problem.network()
    opt = probe_optimizer(net)
    trace = Trace(net, opt)
    train = TracedLoader(TensorDataset(problem.train_x, problem.train_y), trace, TRACE_TRAIN)
    test = TracedLoader(TensorDataset(problem.test_x, problem.test_y), trace, TRACE_TEST)
    history = make_loop()(net, nn.CrossEntropyLoss(), opt, train, test, 2)
    record = trace.finish()
    forged = dict(record, states=record["states"].clone())
    forged["states"][-1, 100:] += 0.05      # the final weights of the network's later layers
    found = judge_loop(problem, read_trace(forged), history["test_acc"], TOLERANCE)
    assert found.weights is not None
    assert judge_loop(problem, read_trace(record), [0.5, 0.5], TOLERANCE).returned is not None


def test_malformed_traces_are_refused():
    with pytest.raises(TraceError):
        read_trace({"states": torch.zeros(2, 3), "events": torch.zeros(2, 3, dtype=torch.int64)})
    with pytest.raises(TraceError):    # no final state
        read_trace({"states": torch.zeros(1, 192), "events": torch.zeros(1, 3, dtype=torch.int64)})


def test_a_trace_forged_without_batches_earns_no_training_check():
    """One pass that draws nothing, then changed weights: nothing the grader can recompute or see."""
    problem = probe_problem(3, 1)
    net = problem.network()
    flat = flat_state(net, probe_optimizer(net))
    forged = {"states": torch.stack([flat, flat + 0.01]), "events": torch.tensor([[0, 0, 1], [2, 2, 1]])}
    found = judge_loop(problem, read_trace(forged), [0.9], TOLERANCE)
    assert all(getattr(found, check) for check in CHECKS)


@pytest.mark.parametrize("seed", [0, 3, 4])
def test_stale_gradients_piling_up_do_not_pass_for_a_step_count_bug(seed):
    """With gradients never cleared, the marker's moves fit neither step count well; they must cost the
    reset check, not the steps check (seeds where an earlier rule blamed the steps)."""
    assert failed(make_loop(clear="never"), seed=seed) == {"reset", "weights"}


def test_an_accuracy_rounded_any_usual_way_is_the_accuracy():
    """349/400 = 0.8725 rounds to 0.873 (Python, half up) or 0.872 (half to even, as NumPy and PyTorch
    round); both are that accuracy, no other 3-decimal number is, nor a coarser rounding."""
    from autograder.loop_judge import _same_accuracy

    exact = 349 / 400
    assert _same_accuracy(0.873, exact) and _same_accuracy(0.872, exact) and _same_accuracy(87.25, 100 * exact)
    assert _same_accuracy(87.2, 100 * exact) and _same_accuracy(0.8725, exact)
    assert not any(_same_accuracy(a, exact) for a in (0.871, 0.874, 0.87, 0.8723, 87.1, 0.9))
