"""What crosses the channel is bounded before the grader works on it: tensor files, report numbers and
the notes of a verdict."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch

from autograder.artifacts import ArtifactError, load_tensors
from autograder.report import parse_report
from autograder.sandbox.harness.contract import MAX_COUNT


def _saved(tensors: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return buffer.getvalue()


def _rewritten(raw: bytes, compression: int) -> bytes:
    """The same archive with every entry stored with ``compression``."""
    source, target = zipfile.ZipFile(io.BytesIO(raw)), io.BytesIO()
    with zipfile.ZipFile(target, "w", compression=compression) as archive:
        for entry in source.infolist():
            archive.writestr(entry.filename, source.read(entry.filename))
    return target.getvalue()


def test_a_file_the_harness_writes_loads(tmp_path):
    (tmp_path / "step.pt").write_bytes(_saved({"1/0": torch.ones(3)}))
    assert torch.equal(load_tensors(tmp_path / "step.pt")["1/0"], torch.ones(3))


def test_a_compressed_tensor_file_is_refused_before_it_inflates(tmp_path):
    """Deflated zeros: the file is a thousandth of what it would unpack to."""
    raw = _rewritten(_saved({"bomb": torch.zeros(10_000_000)}), zipfile.ZIP_DEFLATED)
    assert len(raw) < 40_000_000 // 100
    (tmp_path / "bomb.pt").write_bytes(raw)
    with pytest.raises(ArtifactError, match="compressed|claims more data"):
        load_tensors(tmp_path / "bomb.pt")


def test_an_entry_that_claims_more_than_the_file_holds_is_refused(tmp_path):
    raw = bytearray(_saved({"x": torch.ones(1000)}))
    # the uncompressed-size field of the data entry's central-directory record says 4 GB
    position = raw.find(b"PK\x01\x02")
    while position != -1:
        name_length = int.from_bytes(raw[position + 28:position + 30], "little")
        if raw[position + 46:position + 46 + name_length].endswith(b"data/0"):
            raw[position + 24:position + 28] = (0xFFFFFFF0).to_bytes(4, "little")
        position = raw.find(b"PK\x01\x02", position + 4)
    (tmp_path / "liar.pt").write_bytes(bytes(raw))
    with pytest.raises(ArtifactError):
        load_tensors(tmp_path / "liar.pt")


@pytest.mark.parametrize("number", [MAX_COUNT + 1, 10**4000, -1])
def test_report_counts_are_bounded_like_its_strings(number):
    report = parse_report(json.dumps(
        {"phases": {"cell x": {"output": "", "output_dropped": number, "seconds": 0.1}}}).encode())
    assert "phases" in report.problems and "phases" not in report.sections


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10**30])
def test_report_values_are_finite_and_bounded(value):
    raw = json.dumps({"criterion": {"type": "x", "value": value}}).encode()
    assert "criterion" in parse_report(raw).problems


def _with_pickle(pickle: bytes) -> bytes:
    """A tensor file whose pickle is ``pickle``, stored as ``torch.save`` stores it."""
    source, target = zipfile.ZipFile(io.BytesIO(_saved({"x": torch.ones(3)}))), io.BytesIO()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for entry in source.infolist():
            data = pickle if entry.filename.endswith("data.pkl") else source.read(entry.filename)
            archive.writestr(entry.filename, data)
    return target.getvalue()


def test_a_pickle_long_enough_to_keep_the_grader_busy_is_refused_before_it_is_read(tmp_path):
    """Setting the same key again and again: memory stays flat, but ``weights_only`` reads each opcode
    in Python, some 20 million of them in a 64 MB record."""
    (tmp_path / "slow.pt").write_bytes(_with_pickle(b"\x80\x02}" + b"NNs" * 100_000 + b"."))
    with pytest.raises(ArtifactError, match="describes its tensors in more than"):
        load_tensors(tmp_path / "slow.pt")


def test_a_file_of_very_many_entries_is_refused(tmp_path):
    (tmp_path / "many.pt").write_bytes(_saved({str(index): torch.ones(1) for index in range(300)}))
    with pytest.raises(ArtifactError, match="at most 256 entries|more than 256 entries"):
        load_tensors(tmp_path / "many.pt")
