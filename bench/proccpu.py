"""CPU time of the processes of a benchmark run, read from ``/proc``: what each costs per record.

Wall-clock rates drift by tens of percent on a shared machine; the CPU time a process spent on
a run drifts much less, and it says where the time goes: the producers (encode, spool, send),
the backend process (broker, collector: decode, privacy policy, acknowledgements), the store
writer (INSERT, full-text index, commit), and the backend's other children (bridge, dashboard).
"""

from __future__ import annotations

import os
from pathlib import Path

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": the comm may hold spaces
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime (fields 14 and 15 of stat)


def children(pid: int) -> dict[int, str]:
    """The child processes of ``pid``, each with its command line."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat[stat.rindex(")") + 2:].split()[1]) != pid:
                continue
            out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return out


class Meter:
    """CPU seconds per role between ``start`` and ``stop``: producers, backend, writer, other children."""

    def __init__(self, backend_pid: int, producer_pids: list[int]) -> None:
        self.roles: dict[str, list[int]] = {"producers": list(producer_pids), "backend": [backend_pid],
                                            "writer": [], "other": []}
        for pid, cmdline in children(backend_pid).items():
            self.roles["writer" if "aico.collector.writer" in cmdline else "other"].append(pid)
        self._start: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        return {role: sum(cpu_seconds(p) for p in pids) for role, pids in self.roles.items()}

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        """CPU seconds each role spent since ``start``."""
        end = self._read()
        return {role: max(0.0, end[role] - self._start[role]) for role in end}
