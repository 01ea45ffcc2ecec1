"""The class report: one self-contained HTML page of how the class did, read at a glance. Aggregates only
(scores, pass rates, reasons with numbers and quoted names blanked, accuracies, times): never a student's
code. Plots are matplotlib PNGs embedded as data URIs; no scripts, no network assets."""

from __future__ import annotations

import base64
import io
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from html import escape

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..assignment import MODELS
from ..settings import Settings
from .run import Outcome

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 64em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.bar { background: #1a7f37; height: 0.8em; display: inline-block; }
ul { margin: 0; padding-left: 1.2em; }
"""
REASONS_SHOWN = 3
_MEASURED = re.compile(r" \(measured: .*\)$")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def reason_kind(output: str) -> str:
    """A lost check's reason as a kind shared by many students: without the measured value, with numbers
    as # and anything quoted (names from the student's code) as '…'."""
    return _NUMBER.sub("#", _QUOTED.sub("'…'", _MEASURED.sub("", output)))


@dataclass
class CheckStats:
    name: str
    max_score: float
    passed: int = 0
    graded: int = 0
    reasons: Counter = field(default_factory=Counter)   # reason kind -> students

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


def check_stats(graded: list[dict]) -> list[CheckStats]:
    """Each check's pass rate and the reasons it was lost, hardest first (ties in grading order)."""
    stats: dict[str, CheckStats] = {}
    for results in graded:
        for test in results["tests"]:
            entry = stats.setdefault(test["name"], CheckStats(test["name"], test["max_score"]))
            entry.graded += 1
            if test["status"] == "passed":
                entry.passed += 1
            else:
                entry.reasons[reason_kind(test["output"])] += 1
    return sorted(stats.values(), key=lambda entry: entry.rate)


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{escape(str(figure.get_label()))}" src="data:image/png;base64,{data}">'


def _histogram(scores: list[float], maximum: float) -> str:
    figure = Figure(figsize=(6, 2.8), label="score histogram")
    axes = figure.subplots()
    axes.hist(scores, bins=10, range=(0, maximum), color="#4063a0", edgecolor="white")
    axes.set(xlabel="score", ylabel="students", xlim=(0, maximum))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(figure)


def _accuracy_plot(accuracies: dict[str, list[float]], thresholds: dict[str, float]) -> str:
    figure = Figure(figsize=(6, 2.8), label="accuracies against thresholds")
    axes = figure.subplots()
    for index, key in enumerate(MODELS):
        values = accuracies[key]
        axes.scatter([index] * len(values), values, color="#4063a0", alpha=0.6)
        axes.hlines(thresholds[key], index - 0.3, index + 0.3, color="#b3261e")
    axes.set_xticks(range(len(MODELS)), [spec.name for spec in MODELS.values()])
    axes.set(ylabel="test accuracy (red: needed)", ylim=(0, 1))
    return _png(figure)


def _checks_table(stats: list[CheckStats]) -> str:
    rows = []
    for entry in stats:
        reasons = "".join(f"<li>{escape(kind)} <em>({count} student{'s' * (count != 1)})</em></li>"
                          for kind, count in entry.reasons.most_common(REASONS_SHOWN))
        rows.append(f"<tr><td>{escape(entry.name)}</td><td>{entry.max_score:g}</td>"
                    f'<td><span class="bar" style="width:{entry.rate * 6:.2f}em"></span> '
                    f"{entry.passed} / {entry.graded} ({entry.rate:.0%})</td><td><ul>{reasons}</ul></td></tr>")
    return ("<table><tr><th>check</th><th>points</th><th>passed</th><th>most common reasons for losing it</th></tr>"
            + "".join(rows) + "</table>")


def _accuracy_table(accuracies: dict[str, list[float]], thresholds: dict[str, float], graded: int) -> str:
    rows = []
    for key, spec in MODELS.items():
        values = accuracies[key]
        above = sum(value >= thresholds[key] for value in values)
        spread = (f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}" if values else "&mdash;")
        rows.append(f"<tr><td>{escape(spec.name)}</td><td>{thresholds[key]:.2f}</td><td>{len(values)} of {graded}"
                    f"</td><td>{above}</td><td>{spread}</td></tr>")
    return ("<table><tr><th>model</th><th>needed</th><th>measured</th><th>at or above the threshold</th>"
            "<th>lowest / median / highest</th></tr>" + "".join(rows) + "</table>")


def _times(outcomes: list[Outcome]) -> str:
    timed = [o.seconds for o in outcomes if not o.skipped and o.results is not None]
    if not timed:
        return "<p>No submission was graded in this run.</p>"
    return (f"<p>{len(timed)} graded in this run: median {statistics.median(timed):.1f} s, longest "
            f"{max(timed):.1f} s, {sum(timed) / 60:.1f} minutes of grading in all; "
            f"{sum(o.skipped for o in outcomes)} kept from an earlier run.</p>")


def _ungraded(outcomes: list[Outcome]) -> str:
    failed = [o for o in outcomes if o.results is None]
    if not failed:
        return "<p>None: every submission got a verdict.</p>"
    rows = "".join(f"<tr><td>{escape(o.submission.student)}</td><td>{escape(o.error)}</td></tr>" for o in failed)
    return f"<table><tr><th>student</th><th>why (the grader's fault, not the submission's)</th></tr>{rows}</table>"


def render_class_report(assignment: str, outcomes: list[Outcome]) -> str:
    """The whole page for one batch's outcomes."""
    graded = [o.results for o in outcomes if o.results is not None]
    scores = [results["score"] for results in graded]
    maximum = max((sum(t["max_score"] for t in r["tests"]) for r in graded), default=100.0) or 100.0
    thresholds = Settings().accuracy.thresholds
    accuracies: dict[str, list[float]] = {key: [] for key in MODELS}
    for results in graded:
        for key, value in results.get("extra_data", {}).get("accuracies", {}).items():
            if key in accuracies and isinstance(value, (int, float)):
                accuracies[key].append(float(value))
    summary = (f"{len(outcomes)} submissions, {len(graded)} graded, {len(outcomes) - len(graded)} could not be graded"
               + (f"; mean score {statistics.mean(scores):.1f}, median {statistics.median(scores):g} of {maximum:g}"
                  if scores else ""))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(assignment)}: class report</title>
<style>{STYLE}</style></head><body>
<h1>{escape(assignment)}: class report</h1>
<p id="summary">{escape(summary)}</p>
<h2>Scores</h2>
{_histogram(scores, maximum) if scores else "<p>No submission was graded.</p>"}
<h2>Checks, hardest first</h2>
<p>Reasons are grouped across students: numbers show as #, names quoted from code as '…'.</p>
{_checks_table(check_stats(graded))}
<h2>Accuracies the grader measured</h2>
{_accuracy_table(accuracies, thresholds, len(graded))}
{_accuracy_plot(accuracies, thresholds) if graded else ""}
<h2>Grading times</h2>
{_times(outcomes)}
<h2>Submissions that could not be graded</h2>
{_ungraded(outcomes)}
</body></html>
"""
