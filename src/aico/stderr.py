"""The logging infrastructure's own voice: one line on stderr, never through ``logging``.

Code on the logging path (the logger library, the backend and its plugins, the collector,
the bridge) cannot log through itself (it would loop), so what it must tell (a spool it
cannot write, a sender that stopped, a plugin that failed) goes here: the one place where
it prints. A closed or broken stderr leaves nothing else to tell, so that one error is the
only one this swallows.
"""

from __future__ import annotations

import sys


def say(text: str, *, prefix: str = "[aico logging]") -> None:
    """Write ``prefix text`` as one line on stderr; never raises."""
    try:
        print(f"{prefix} {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):  # closed (ValueError), broken (OSError) or None (AttributeError)
        return
