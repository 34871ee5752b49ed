"""Every detector's pre-check in one pass: an RE2 set says which detectors can match a text.

Python's ``re`` tries an alternation of twenty patterns at every position of a line (over
100 us for an ordinary clean log line); RE2 runs them all as one automaton in linear time
(about 2 us). ``QuickSet.flags`` gives a bit per pattern that matches, so the scrubber runs
only the detectors whose pre-check matched, and clean text costs one pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import re2


class QuickSet:
    """``patterns`` (RE2 syntax) compiled into one set; ``flags(text)`` has bit ``i`` set when pattern ``i`` matches."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._set = re2.Set.SearchSet(re2.Options())
        for pattern in self.patterns:
            self._set.Add(pattern)
        self._set.Compile()

    def flags(self, text: str) -> int:
        hits = self._set.Match(text)
        if not hits:
            return 0
        bits = 0
        for i in hits:
            bits |= 1 << i
        return bits
