"""The memory and CPU a container grants, read from its cgroup (Docker sets both for Gradescope and PrairieLearn)."""

from __future__ import annotations

from pathlib import Path

from ..sandbox.cgroups import controller_folders

CGROUP = Path("/sys/fs/cgroup")
NO_LIMIT = 1 << 60  # cgroup v1 reports "no memory limit" as a number near 2**63


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def memory_limit(cgroup: Path = CGROUP, membership: str | None = None) -> int | None:
    """Bytes this process's container may use, or None when no limit is set or none can be read."""
    for folder in controller_folders("memory", cgroup, membership):
        text = _read(folder / "memory.max") or _read(folder / "memory.limit_in_bytes")  # v2, v1
        if text and text.isdigit() and int(text) < NO_LIMIT:
            return int(text)
    return None


def cpu_limit(cgroup: Path = CGROUP, membership: str | None = None) -> float | None:
    """CPUs' worth of time the container gets (0.5: half a CPU), or None when unlimited or unknown."""
    for folder in controller_folders("cpu", cgroup, membership):
        v2 = _read(folder / "cpu.max")
        quota: str | None
        period: str | None
        if v2:
            quota, _, period = v2.partition(" ")
        else:  # v1; a quota of -1 means unlimited
            quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
        if quota and period and quota.isdigit() and period.isdigit() and int(period):
            return int(quota) / int(period)
    return None
