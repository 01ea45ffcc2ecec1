"""A student's feedback page: self-contained HTML built from their results (never from check code)."""

from __future__ import annotations

from html import escape

from .assignment import MODELS
from .hints import hint_at
from .settings import AccuracyBudget, Settings

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.passed { color: #1a7f37; } .failed { color: #b3261e; }
.hint { color: #555; font-style: italic; }
.models { display: flex; gap: 2em; flex-wrap: wrap; }
"""


def _shape(shape) -> str:
    return " x ".join(str(n) for n in shape)


def _checks_table(tests: list[dict], hints: str) -> str:
    rows = []
    for test in tests:
        status = test["status"]
        detail = "" if status == "passed" else escape(test["output"])
        hint = hint_at(hints, test.get("extra_data", {}).get("hint", ""), test["name"], (test.get("tags") or [""])[0])
        if hint and status != "passed":
            detail += f'<div class="hint">Hint: {escape(hint)}</div>'
        measured = escape(test.get("extra_data", {}).get("measured", ""))
        rows.append(f'<tr><td>{escape(test["name"])}</td><td class="{status}">{test["score"]:g} / '
                    f'{test["max_score"]:g}</td><td>{measured}</td><td>{detail}</td></tr>')
    return ("<table><tr><th>check</th><th>points</th><th>measured</th><th>what to look at</th></tr>"
            + "".join(rows) + "</table>")


def _architecture(key: str, found: list | None) -> str:
    expected = MODELS[key].layer_shapes
    found = found or []
    rows = []
    for index in range(max(len(expected), len(found))):
        ours = f"{expected[index][0]} {_shape(expected[index][1])}" if index < len(expected) else ""
        theirs = f"{found[index][0]} {_shape(found[index][1])}" if index < len(found) else ""
        css = "passed" if ours == theirs else "failed"
        rows.append(f'<tr><td>{index + 1}</td><td class="{css}">{escape(theirs) or "&mdash;"}</td>'
                    f'<td>{escape(ours)}</td></tr>')
    note = "" if found else "<p>Your model could not be run, so its layers are unknown.</p>"
    return (f"<div><h3>{escape(MODELS[key].name)}</h3>{note}<table><tr><th>#</th><th>your layer output</th>"
            f"<th>expected</th></tr>{''.join(rows)}</table></div>")


def _accuracies(found: dict, budget: AccuracyBudget) -> str:
    rows = []
    for key, spec in MODELS.items():
        value = found.get(key)
        shown = f"{value:.3f}" if isinstance(value, (int, float)) else "not measured"
        css = "passed" if isinstance(value, (int, float)) and value >= budget.thresholds[key] else "failed"
        rows.append(f'<tr><td>{escape(spec.name)}</td><td class="{css}">{shown}</td>'
                    f"<td>{budget.thresholds[key]:.2f}</td></tr>")
    return ("<table><tr><th>model</th><th>test accuracy</th><th>needed</th></tr>" + "".join(rows) + "</table>")


def _notes(output: str) -> str:
    """What stopped or limited the grading, one note per line as the grader wrote them."""
    notes = [line for line in output.splitlines() if line.strip()]
    return '<ul class="notes">' + "".join(f"<li>{escape(note)}</li>" for note in notes) + "</ul>" if notes else ""


def render_feedback(student: str, assignment: str, results: dict, hints: str = "full") -> str:
    """The whole page for one student's results (Gradescope schema with the grader's extra data), with
    each lost check's hint at the level ``hints`` (``autograder.hints.HINT_LEVELS``)."""
    extra = results.get("extra_data", {})
    total = sum(t["max_score"] for t in results["tests"])
    budget = Settings().accuracy
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(assignment)}: feedback for {escape(student)}</title>
<style>{STYLE}</style></head><body>
<h1>{escape(assignment)}: feedback for {escape(student)}</h1>
<p><strong>Score: {results['score']:g} / {total:g}</strong></p>
{_notes(results.get('output', ''))}
<h2>Checks</h2>
{_checks_table(results['tests'], hints)}
<h2>Your architectures</h2>
<p>Output shape (per image) of every convolution, pooling and fully connected layer, next to the expected one.</p>
<div class="models">{''.join(_architecture(key, extra.get('layers', {}).get(key)) for key in MODELS)}</div>
<h2>Your models' accuracy</h2>
<p>The grader trained each of your models from a fixed starting point for a short, fixed budget and measured
its accuracy on the first {budget.test_images:,} test images.</p>
{_accuracies(extra.get('accuracies', {}), budget)}
</body></html>
"""
