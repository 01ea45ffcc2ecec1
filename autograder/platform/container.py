"""The memory and CPU a container grants, read from its cgroup (Docker sets both for Gradescope and PrairieLearn)."""

from __future__ import annotations

from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
NO_LIMIT = 1 << 60  # cgroup v1 reports "no memory limit" as a number near 2**63


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _folders(controller: str, cgroup: Path, membership: str | None) -> list[Path]:
    """Where this process's cgroup files for ``controller`` may be: its own cgroup's folder, named in
    /proc/self/cgroup (v1 first, then v2), then the top of the mount, which is all a container sees."""
    if membership is None:
        membership = _read(Path("/proc/self/cgroup")) or ""
    v1, v2 = [], []
    for line in membership.splitlines():
        _, controllers, path = line.split(":", 2)
        if not controllers:
            v2.append(cgroup / path.lstrip("/"))
        elif controller in controllers.split(","):
            v1.append(cgroup / controller / path.lstrip("/"))
    return [*v1, cgroup / controller, *v2, cgroup]


def memory_limit(cgroup: Path = CGROUP, membership: str | None = None) -> int | None:
    """Bytes this process's container may use, or None when no limit is set or none can be read."""
    for folder in _folders("memory", cgroup, membership):
        text = _read(folder / "memory.max") or _read(folder / "memory.limit_in_bytes")  # v2, v1
        if text and text.isdigit() and int(text) < NO_LIMIT:
            return int(text)
    return None


def cpu_limit(cgroup: Path = CGROUP, membership: str | None = None) -> float | None:
    """CPUs' worth of time the container gets (0.5: half a CPU), or None when unlimited or unknown."""
    for folder in _folders("cpu", cgroup, membership):
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
