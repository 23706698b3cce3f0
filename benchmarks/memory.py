"""Peak resident memory of one phase of a benchmark.

Linux lets a process reset its high-water mark (write 5 to /proc/self/clear_refs), so a phase's peak is
measured on its own, not mixed with what an earlier phase left in the allocator's caches. Elsewhere the
process-wide peak (getrusage) is reported, which can only overstate.
"""

from __future__ import annotations

import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    try:
        _CLEAR.write_text("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    """The high-water mark of resident memory since the last reset (or since the process started)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
