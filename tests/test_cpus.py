"""Thread and worker counts follow the CPUs a process may use, not the machine's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import os
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
from emosynth.cpus import usable_cpus
from emosynth.recognizer.features import ClipFeatureExtractor
from emosynth.serve.settings import default_workers
print(usable_cpus(), ClipFeatureExtractor()._threads, default_workers())
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_a_process_pinned_to_one_cpu_sizes_its_threads_and_workers_to_one():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "1", "1"]
