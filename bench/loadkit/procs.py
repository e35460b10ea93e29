"""Memory of process trees, read from /proc (no psutil): a server's Sanic worker children count.

RSS counts pages shared between a parent and its forked workers once per process, so the sum
over a tree overstates what the tree costs; PSS (proportional set size, from
``/proc/<pid>/smaps_rollup``) splits shared pages between the processes that share them, so the
sum of PSS is what the tree really takes. Both are reported.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field


def _children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process visible in /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name (2nd field) may contain spaces and parentheses: split after it.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    return children


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are alive now."""
    children = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _kb(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_memory_mb(pid: int, pss: bool = True) -> tuple[float, float, int]:
    """(sum of RSS, sum of PSS or 0, number of processes) of ``pid``'s tree, in MiB.

    PSS is costly to read (the kernel walks the process's page tables: ~20 ms for a 1.5 GB
    Rasa process, holding its memory map lock), so it is optional."""
    pids = tree(pid)
    rss = sum(_kb(f"/proc/{p}/status", "VmRSS:") for p in pids)
    pss_kb = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids) if pss else 0
    return rss / 1024, pss_kb / 1024, len(pids)


@dataclass
class Peak:
    rss_mb: float = 0.0
    pss_mb: float = 0.0
    processes: int = 0


@dataclass
class MemorySampler:
    """Samples the memory of named process trees in a thread and keeps the peak of each (the sum
    over the tree at one moment, not the sum of peaks): RSS every ``interval`` seconds, PSS every
    ``pss_every`` samples (reading it disturbs the servers, see ``tree_memory_mb``)."""

    pids: dict[str, int]
    interval: float = 1.0
    pss_every: int = 10
    peaks: dict[str, Peak] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _samples: int = 0

    def sample(self, pss: bool | None = None) -> None:
        if pss is None:
            pss = self._samples % self.pss_every == 0
        self._samples += 1
        for name, pid in self.pids.items():
            rss, pss_mb, n = tree_memory_mb(pid, pss)
            peak = self.peaks.setdefault(name, Peak())
            peak.rss_mb = max(peak.rss_mb, rss)
            peak.pss_mb = max(peak.pss_mb, pss_mb)
            peak.processes = max(peak.processes, n)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> MemorySampler:
        self.sample(pss=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample(pss=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid``'s tree (children still running)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks
