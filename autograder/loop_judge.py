"""Each question about ``train_model`` judged by an effect of its own, on the trace of one call on the
probe problem (``loop_trace``), so that a bug the grader has never seen costs only the checks it breaks.

* weights: each epoch (the states at the start of two passes over the training loader that changed the
  weights, the last one ending at the final weights) is replayed by the grader: one correct epoch over the
  batches that pass drew, from the weights and momentum it started from.
* steps and reset: the probe network's marker parameter has a zero gradient except after the marker
  batches' backward pass, and SGD moves it with momentum; from batch to batch, its moves and ``opt``'s
  momentum buffer show whether a step with the fresh gradient followed each marker batch, whether a later
  step reused a stale gradient, and how many steps each batch took. This holds for any loss of the logits
  and any learning rate.
* epochs: the passes over the training loader that trained, and whether each drew every batch.
* accuracies: the returned numbers against the grader's own whole-test-set accuracy of the state after
  each epoch; eval mode: each returned number is the eval-mode accuracy the grader computes for the
  state at one of the passes over the test loader.

The trace can be forged. The weights and accuracy questions are recomputed from it (the grader replays
the training and evaluates the weights itself), so forging them costs as much as the loop. The epochs,
steps and reset questions read what the trace records (its passes, the marker's moves): a forged trace
could pass those three, at the price of code written against the harness (the README says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass

import torch
import torch.nn.functional as F

from .context import close
from .loop_trace import Pass, Trace
from .probes import Loss, accuracy, marker_and_momentum, replay, unflatten
from .sandbox.harness.contract import PROBE_LR, PROBE_MOMENTUM
from .sandbox.harness.problems import ProbeProblem

# batch sizes of the test loaders students make for themselves (a whole probe test set fits in the largest)
TEST_BATCH_SIZES = (None, 32, 64, 100, 128, 256, 500, 512, 1000)
STEP_REASON = ("the weights never changed: opt.step() is missing, runs before loss.backward(), or the gradients "
               "are cleared between loss.backward() and opt.step()")


@dataclass(frozen=True)
class LoopVerdicts:
    """Why each check fails for one call (None where it passes)."""

    weights: str | None
    steps: str | None
    reset: str | None
    epochs: str | None
    mode: str | None
    returned: str | None

    def after_error(self, error: str) -> LoopVerdicts:
        """The verdicts on a call that raised ``error`` after the passes its trace shows: what those passes
        did right still counts, and every check they do not pass says what was raised."""
        return LoopVerdicts(*(reason and f"{reason}; it raised {error}"
                              for reason in astuple(self)))


def _same_accuracy(a: float, b: float) -> bool:
    """Whether ``a`` is the accuracy ``b``, as computed or rounded for display (any way of rounding: to the
    nearest, half up or half to even) to 3 to 6 decimals of a fraction (1 to 4 of a percentage): finer
    than one probe test sample in 640, so rounding hides no bug."""
    if abs(a - b) <= 1e-6 * max(1.0, abs(b)):
        return True
    digits = range(3, 7) if abs(b) <= 1 else range(1, 5)
    slack = 1e-9 * max(1.0, abs(a), abs(b))
    return any(abs(a - round(a, d)) <= slack and abs(a - b) <= 0.5 * 10.0 ** -d + slack for d in digits)


def _weights(trace: Trace, index: int) -> dict[str, torch.Tensor]:
    return unflatten(trace.states[index])[0]


def _marker(trace: Trace, index: int) -> torch.Tensor:
    return marker_and_momentum(trace.states[index])[0]


def _velocity(trace: Trace, index: int) -> torch.Tensor:
    """The marker's recorded momentum, as the move a step without gradient would add (over mu)."""
    return -PROBE_LR * marker_and_momentum(trace.states[index])[1]


# the known bugs a failed epoch is compared with, to name the cause
_KNOWN: list[tuple[str, bool, Loss]] = [
    ("it trained in eval mode: call model.train() at the start of every epoch", False, F.cross_entropy),
    ("the loss was divided by the batch size: crit already averages", True,
     lambda out, y: F.cross_entropy(out, y) / len(y)),
    ("the loss was computed on softmax probabilities: crit takes the logits", True,
     lambda out, y: F.cross_entropy(out.softmax(dim=1), y)),
    ("each batch's gradient counted twice (two backward passes, or a doubled loss)", True,
     lambda out, y: 2 * F.cross_entropy(out, y)),
]


class _Judge:
    def __init__(self, problem: ProbeProblem, trace: Trace, accuracies: list | None, tolerance: float) -> None:
        self.problem, self.trace, self.accuracies, self.tolerance = problem, trace, accuracies, tolerance
        self.epochs = problem.epochs
        self.train = trace.train_passes()
        self.batches = len(problem.batches())
        self.trained = [p for p in self.train if not self._same(p.start, self._after(p))]

    def _complete(self, p: Pass) -> bool:
        """The pass used every training batch: it ran the loader out, or drew them all one by one (``next(it)``
        ``len(loader)`` times, ``zip(range(len(loader)), loader)``) and trained on the last one too (a
        ``break`` right after drawing it leaves the state as it was)."""
        if len(p.batches) < self.batches:
            return False
        return p.end is not None or not self._same(p.batches[-1], p.batches[-1] + 1)

    def _after(self, p: Pass) -> int:
        """The first state after the pass's epoch: the start of the next pass over the training loader."""
        later = [q.start for q in self.train if q.start > p.start]
        return later[0] if later else self.trace.final

    def _same(self, a: int, b: int) -> bool:
        return close(self.trace.states[a], self.trace.states[b], self.tolerance)

    def _matches(self, found: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> bool:
        return all(close(found[name], expected[name], self.tolerance) for name in found)

    # ---- the weights ----
    def weights(self) -> str | None:
        if not self.trained:
            return STEP_REASON
        first = self.trace.states[self.train[0].start]
        if not self._matches(unflatten(first)[0], self.problem.start) or bool(marker_and_momentum(first)[1].any()):
            return "the weights changed before the first pass over the training batches"
        for number, p in enumerate(self.trained, start=1):
            start, found = self.trace.states[p.start], self.trace.states[self._after(p)]
            drawn = _trained_counts(p)
            if not any(close(found, replay(self.problem, start, k), self.tolerance) for k in drawn):
                known = next((why for why, mode, loss in _KNOWN
                              if close(found, replay(self.problem, start, drawn[0], mode, loss), self.tolerance)), None)
                return (f"with epochs={self.epochs}, epoch {number} left weights that one correct epoch from the same "
                        "start does not reach (crit on the logits, backward, step, reset, in train mode)"
                        + (f": {known}" if known else ""))
        return None

    # ---- steps and reset, from the marker's moves ----
    def _segments(self) -> list[tuple[torch.Tensor, bool, bool, torch.Tensor, torch.Tensor]]:
        """The marker's move over each training batch (and over each stretch between them), in order:
        (move, marker batch, whether it is a stretch outside the training batches, where any number of
        steps may happen, so their effect is not inferred, and the recorded velocities at its start and
        end)."""
        bounds: list[tuple[int, int, bool]] = []
        for p in self.trained:      # a pass that changed nothing (a metrics pass) says nothing of the steps
            for i, at in enumerate(p.batches):
                end = p.batches[i + 1] if i + 1 < len(p.batches) else p.end if p.end is not None else at + 1
                bounds.append((at, end, i in self.problem.markers))
        segments = []
        last = self.trained[0].start if self.trained else 0

        def segment(a: int, b: int, marked: bool, outside: bool) -> tuple:
            return (_marker(self.trace, b) - _marker(self.trace, a), marked, outside, _velocity(self.trace, a),
                    _velocity(self.trace, b))

        for at, end, marked in bounds:
            if at > last:
                segments.append(segment(last, at, False, True))
            segments.append(segment(at, end, marked, False))
            last = end
        segments.append(segment(last, self.trace.final, False, True))
        return segments

    @staticmethod
    def _pattern(segments, steps: int, atol: float, gradient_atol: float, recorded: bool) -> tuple[int, int, int, int]:
        """How many non-marker stretches stepped with a fresh marker gradient (stale), and how many marker
        batches were not followed by a step with their gradient (missing), if each batch that steps takes
        ``steps`` steps (and how many of those took no step at all); and how many steps were seen to apply a
        marker gradient at all. A velocity is the marker's momentum buffer in units of a move (-lr * buffer).
        With ``recorded`` momentum (the loop stepped ``opt``), each batch's gradient is read from the buffer
        before and after it, which no learning rate changes (a scheduler's); without (an optimizer of the
        loop's own), from the moves, with the velocity they imply. ``atol``: the smallest move that counts,
        ``gradient_atol``: the same for a gradient, in the units it is read in."""
        mu = PROBE_MOMENTUM
        carried = sum(mu ** k for k in range(1, steps + 1))         # the old velocity's share of the move
        fresh_share = sum(sum(mu ** j for j in range(k)) for k in range(1, steps + 1))
        velocity, stale, missing, unstepped, seen, after_marker = torch.zeros(1), 0, 0, 0, 0, False
        for move, marked, outside, before, after in segments:
            if outside:     # a step after a marker batch (an epoch's last) shows its gradient
                seen += after_marker and float(move.abs().max()) > atol
                velocity, after_marker = after, False
                continue
            after_marker = marked
            # a step changes the momentum buffer whatever the learning rate; without one, only the move shows
            change, least = (after - before, gradient_atol) if recorded else (move, atol)
            if float(change.abs().max()) <= least:
                missing += marked
                unstepped += marked
                continue
            gradient = ((after - mu ** steps * before) / sum(mu ** j for j in range(steps)) if recorded
                        else (move - carried * velocity) / fresh_share)
            fresh = float(gradient.abs().max()) > 10 * gradient_atol
            stale += fresh and not marked
            missing += marked and not fresh
            seen += fresh
            velocity = mu ** steps * velocity + sum(mu ** j for j in range(steps)) * gradient
        return stale, missing, unstepped, seen

    def _marker_verdicts(self) -> tuple[str | None, str | None]:
        if not self.trained:
            return STEP_REASON, "whether the gradients are reset cannot be seen: the weights never changed"
        segments = self._segments()
        scale = max([float(move.abs().max()) for move, *_ in segments] + [0.0])
        atol = 1e-4 * scale + 1e-7
        velocities = max(float(after.abs().max()) for *_, after in segments)
        recorded = velocities > atol
        gradient_atol = 1e-4 * velocities + 1e-7 if recorded else atol
        one, two = (self._pattern(segments, steps, atol, gradient_atol, recorded) for steps in (1, 2))
        # two steps per batch only where that explains every move and one step does not; where stale
        # gradients pile up, only a marker batch with no step at all counts as missing its step
        steps, (stale, missing, unstepped, seen) = (2, two) if two[:2] == (0, 0) and one[:2] != (0, 0) else (1, one)
        missing = unstepped if stale else missing
        if not seen:        # no step ever applied a marker gradient: neither question can be answered
            return (STEP_REASON if not missing else "no optimizer step ever used the gradient of a batch: call "
                    "opt.step() once per batch, after loss.backward()"), (
                    "whether the gradients are reset cannot be seen: no step applied the gradient of the batches "
                    "that show it")
        outside = any(out and float(move.abs().max()) > atol for move, _, out, *_ in segments)
        step_reason = (
            "the optimizer took two steps per batch: one opt.step() per batch" if steps == 2 else
            "after some batches' backward pass no optimizer step used their gradient: call opt.step() once per "
            "batch, after loss.backward()" if missing else
            "the optimizer stepped outside the training batches (after an epoch, or while evaluating)" if outside
            else None)
        reset_reason = ("a step used a gradient left over from an earlier batch: clear the gradients once per batch "
                        "(before the backward pass or after the step)") if stale else None
        return step_reason, reset_reason

    # ---- the epochs ----
    def epochs_verdict(self) -> str | None:
        counted = self.trained or [p for p in self.train if self._complete(p)]
        short = [len(p.batches) for p in counted if not self._complete(p)]
        if short:
            return (f"with epochs={self.epochs}, an epoch stopped after drawing {short[0]} of the {self.batches} "
                    "training batches (a leftover break?)")
        if len(counted) != self.epochs:
            return (f"train_model(..., epochs={self.epochs}) trained {len(counted)} epoch(s) over the training batches"
                    if self.trained else
                    f"train_model(..., epochs={self.epochs}) went {len(counted)} time(s) over the training batches")
        return None

    # ---- the returned accuracies ----
    def _epoch_states(self) -> list[dict[str, torch.Tensor]]:
        if self.trained:
            return [_weights(self.trace, self._after(p)) for p in self.trained]
        return [_weights(self.trace, p.start) for p in self.train if self._complete(p)]

    def _numbers(self) -> list[float] | None:
        found = self.accuracies
        if not isinstance(found, list) or not found or any(not isinstance(a, (int, float)) for a in found):
            return None
        return [float(a) for a in found]

    def returned(self) -> str | None:
        found = self._numbers()
        if found is None:
            return f"train_model(..., epochs={self.epochs}) returned no test accuracies in history[\"test_acc\"]"
        states = self._epoch_states()
        expected = [accuracy(self.problem, s) for s in states]
        if len(found) != len(states):
            return (f"train_model(..., epochs={self.epochs}) returned {len(found)} test accuracies for {len(states)} "
                    "epoch(s) trained: append one per epoch, after its training")
        if all(_same_accuracy(a, b) or any(_same_accuracy(a, t) for t in self._in_train_mode(s))
               for a, b, s in zip(found, expected, states, strict=True)):
            return None
        return (f"with epochs={self.epochs}, the returned test accuracies {_shown(found)} are not the model's accuracy "
                f"over the whole test set after each epoch, {_shown(expected)}{self._why(found, expected, states)}")

    def _in_train_mode(self, state: dict[str, torch.Tensor]) -> list[float]:
        """The accuracies over the whole test set in training mode, through the probe's test loader or a
        loader of the loop's own with a usual batch size (the mode's own check judges the mode)."""
        return [accuracy(self.problem, state, train_mode=True, batch_size=size) for size in TEST_BATCH_SIZES]

    def _why(self, found: list[float], expected: list[float], states: list[dict[str, torch.Tensor]]) -> str:
        tests = len(self.problem.batches(train=False))
        before = [self.problem.start, *states[:-1]]
        drawn = sorted({k for p in self.trace.test_passes()[:50] for k in _trained_counts(p)})
        for why, values in [
            ("they are always 0: integer division (//) floors a fraction to 0, divide with /",
             lambda: [0.0] * len(found)),
            ("they are in percent: return a fraction in [0, 1]", lambda: [100 * e for e in expected]),
            ("they were measured before each epoch's training, not after",
             lambda: [accuracy(self.problem, s) for s in before]),
            ("they were measured on the training data: evaluate on test_loader",
             lambda: [accuracy(self.problem, s, training_data=True) for s in states]),
            ("they were measured on the first test batch only",
             lambda: [accuracy(self.problem, s, batches=1) for s in states]),
            ("they were measured on the last test batch only",
             lambda: [_last_batch_accuracy(self.problem, s) for s in states]),
            *[(f"they were measured on the first {k} of the {tests} test batches only (a leftover break?)",
               _prefix(self.problem, states, k, whole)) for k in drawn if 1 < k < tests for whole in (False, True)],
        ]:
            if all(_same_accuracy(a, b) for a, b in zip(found, values(), strict=True)):
                return f": {why}"
        return ""

    # ---- evaluation mode ----
    def mode(self) -> str | None:
        found = self._numbers()
        if found is None:
            return f"train_model(..., epochs={self.epochs}) returned no test accuracies in history[\"test_acc\"]"
        tests = self.trace.test_passes()[:200]
        evaluations, in_train_mode = set(), set()   # over all, or the batches a pass used, or its last
        for p in tests:
            state = _weights(self.trace, p.start)
            for batches in {None, *[k or None for k in _trained_counts(p)]}:
                evaluations.update(_part_accuracies(self.problem, state, batches))
                in_train_mode.add(accuracy(self.problem, state, train_mode=True, batches=batches))
            evaluations.add(_last_batch_accuracy(self.problem, state))
        for state in self._epoch_states():      # evaluated through a loader of its own, or on the wrong data
            evaluations.update({accuracy(self.problem, state), accuracy(self.problem, state, training_data=True)})
        evaluated = [any(_same_accuracy(a, e) or _same_accuracy(a, 100 * e) for e in evaluations) for a in found]
        if all(evaluated):
            return None
        if all(ok or any(_same_accuracy(a, t) for t in in_train_mode) for a, ok in zip(found, evaluated, strict=True)):
            return "the returned test accuracies were measured in training mode: call model.eval() before evaluating"
        return ("the returned test accuracies are not the eval-mode accuracy over the test set of the model at any of "
                "its evaluations or after any epoch, so the mode they were measured in cannot be seen")

    def verdicts(self) -> LoopVerdicts:
        if not self.train:
            never = "train_model never drew a batch from the training loader"
            return LoopVerdicts(never, never, never, never, self.mode(), self.returned())
        steps, reset = self._marker_verdicts()
        return LoopVerdicts(self.weights(), steps, reset, self.epochs_verdict(), self.mode(), self.returned())


def _trained_counts(p: Pass) -> list[int]:
    """How many of the batches a pass drew were used: all, or all but the last when it was left early
    (a ``break`` right after drawing a batch)."""
    return [len(p.batches)] if p.end is not None else [len(p.batches), max(0, len(p.batches) - 1)]


def _shown(values: list[float]) -> str:
    shown = ", ".join(f"{v:.4g}" for v in values[:6])
    return f"[{shown}{', ...' if len(values) > 6 else ''}]"


def _last_batch_accuracy(problem: ProbeProblem, state: dict[str, torch.Tensor]) -> float:
    tests = len(problem.batches(train=False))
    all_but_last = accuracy(problem, state, batches=tests - 1) * (tests - 1)
    return accuracy(problem, state) * tests - all_but_last


def _part_accuracies(problem: ProbeProblem, state: dict[str, torch.Tensor], batches: int | None) -> set[float]:
    """The eval-mode accuracy over the first ``batches`` test batches, divided by their samples or, as an
    evaluation left early by a ``break`` computes it, by the whole test set's."""
    found = accuracy(problem, state, batches=batches)
    tests = len(problem.batches(train=False))
    return {found, found * (batches or tests) / tests}


def _prefix(problem: ProbeProblem, states: list[dict[str, torch.Tensor]], k: int,
            whole: bool) -> Callable[[], list[float]]:
    tests = len(problem.batches(train=False))
    return lambda: [accuracy(problem, s, batches=k) * (k / tests if whole else 1) for s in states]


def judge_loop(problem: ProbeProblem, trace: Trace, accuracies: list | None, tolerance: float) -> LoopVerdicts:
    """Why each loop check fails for one ``train_model`` call (None where it passes)."""
    return _Judge(problem, trace, accuracies, tolerance).verdicts()
