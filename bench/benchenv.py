"""What every benchmark needs to run a backend of its own: free ports and an isolated home."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def case_env(home: Path, **overrides: str) -> dict[str, str]:
    """An environment for a backend in ``home`` on free bus and bridge ports, no OS keyring."""
    pub, sub, bridge = free_ports(3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICO_")}
    env.update({"AICO_HOME": str(home), "AICO_CORE__MESSAGE_BUS__PUB_PORT": str(pub),
                "AICO_CORE__MESSAGE_BUS__SUB_PORT": str(sub), "AICO_CORE__BRIDGE__PORT": str(bridge),
                "AICO_CORE__SECURITY__KEYRING": "false"})
    env.update(overrides)
    return env
