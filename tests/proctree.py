"""The descendants of a process, read from ``/proc``: the fault campaign finds the process to kill by them, and
``bench/soak.py`` its processes to kill and to measure. No pytest here, so the soak can import it."""

from __future__ import annotations

from pathlib import Path


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every descendant of ``pid``; one that exits while it is read is left out."""
    out: list[tuple[int, str]] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):  # none once the process is gone
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                try:
                    cmd = Path(f"/proc/{kid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                out.append((kid, cmd))
                todo.append(kid)
    return out
