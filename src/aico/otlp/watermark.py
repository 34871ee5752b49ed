"""The exporter's watermark: the last record id its endpoint acknowledged, kept crash-safe."""

from __future__ import annotations

import json
import os
from pathlib import Path

from aico.config.private import private_dir, private_open


class Watermark:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> int | None:
        """The last acknowledged id, or None when there is none yet (or the file is unreadable)."""
        try:
            value = json.loads(self.path.read_text(encoding="utf-8")).get("last_id")
        except (FileNotFoundError, ValueError, AttributeError):
            return None
        return value if isinstance(value, int) and value >= 0 else None

    def save(self, last_id: int, endpoint: str) -> None:
        """Written to a temporary file, fsynced and renamed over the old one: a crash leaves either."""
        private_dir(self.path.parent)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8", opener=private_open) as fh:
            fh.write(json.dumps({"last_id": last_id, "endpoint": endpoint}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
