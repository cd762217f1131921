"""How many CPUs this process may use: the default for every thread and worker count.

``os.cpu_count()`` counts the machine's CPUs, not the ones a taskset, cgroup cpuset or batch
scheduler leaves this process; sizing numeric thread pools by it oversubscribes a pinned process
(measured: the recognizer ran 20 times slower with 2 BLAS threads on one pinned core).
"""

from __future__ import annotations

import os

__all__ = ["usable_cpus"]


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1
