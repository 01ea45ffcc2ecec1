"""cgroup v2 limits where the machine has them, and a clean fallback where it does not, on fake trees."""

from __future__ import annotations

from pathlib import Path

from autograder.sandbox.cgroups import group_for, own_cgroup, ran_out_of_memory

MEMBERSHIP = "0::/grading\n"


def fake_v2(tmp_path: Path, controllers: str = "cpu memory pids") -> Path:
    root = tmp_path / "cgroup"
    base = root / "grading"
    base.mkdir(parents=True)
    (root / "cgroup.controllers").write_text(controllers)
    (base / "cgroup.controllers").write_text(controllers)
    (base / "cgroup.subtree_control").write_text("")
    (base / "cgroup.procs").write_text("4242\n")
    return root


def test_v2_gives_each_sandbox_a_limited_group_and_moves_the_grader_to_a_leaf(tmp_path):
    root = fake_v2(tmp_path)
    with group_for("one", 3 * 1024**3, 64, root=root, membership=MEMBERSHIP) as group:
        assert group == root / "grading" / "sandbox-one"
        assert (group / "memory.max").read_text() == str(3 * 1024**3)
        assert (group / "pids.max").read_text() == "64"
        assert set((root / "grading" / "cgroup.subtree_control").read_text().split()) == {"+memory", "+pids"}
        assert (root / "grading" / "grader" / "cgroup.procs").read_text() == "4242"


def test_without_the_controllers_or_on_v1_there_is_no_group(tmp_path):
    with group_for("two", 1, 1, root=fake_v2(tmp_path, "cpu io"), membership=MEMBERSHIP) as group:
        assert group is None
    v1 = "12:memory:/grading\n11:pids:/grading\n0::/\n"
    assert own_cgroup(fake_v2(tmp_path / "v1"), v1) is None
    assert own_cgroup(tmp_path / "nothing-mounted", MEMBERSHIP) is None


def test_a_read_only_hierarchy_falls_back(tmp_path):
    root = fake_v2(tmp_path)
    (root / "grading").chmod(0o500)
    try:
        with group_for("three", 1, 1, root=root, membership=MEMBERSHIP) as group:
            assert group is None or group.exists()  # root may write anyway; nothing raises either way
    finally:
        (root / "grading").chmod(0o700)


def test_an_out_of_memory_kill_is_reported(tmp_path):
    group = tmp_path / "sandbox"
    group.mkdir()
    (group / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert ran_out_of_memory(group)
    (group / "memory.events").write_text("oom_kill 0\n")
    assert not ran_out_of_memory(group) and not ran_out_of_memory(None)
