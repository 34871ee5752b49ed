"""Realistic log records for the benchmarks, made fast and reproducibly (a seeded generator).

Many modules across subsystems, levels skewed to INFO, most records in traces of 5 to 50
records that mix frontend and backend, long messages, and exceptions with stacks on errors.
Records are made directly in the stored shape (every column of ``COLUMNS``), ready for
``LogStore.insert_batch``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from aico.schema.timestamps import format_utc

SUBSYSTEMS = {
    "backend": ["api.chat", "api.auth", "api.sessions", "memory.vector", "memory.episodic", "llm.inference",
                "llm.tokenizer", "scheduler.jobs", "storage.sync", "bus.bridge", "plugins.loader",
                "emotion.model", "personality.engine", "embeddings.cache", "tools.web", "tools.calendar"],
    "frontend": ["ui.chat", "ui.settings", "ui.avatar", "net.client", "state.store", "voice.capture",
                 "voice.playback", "notifications"],
    "core": ["config.loader", "security.keys", "security.auth", "telemetry", "updates"],
    "worker": ["ingest.pipeline", "ingest.parser", "index.builder", "summarizer", "reminders"],
}
MODULES = [(sub, f"{sub}.{name}") for sub, names in SUBSYSTEMS.items() for name in names]
FUNCTIONS = ["handle", "process", "run", "load", "save", "fetch", "render", "dispatch", "on_message", "validate"]
LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LEVEL_WEIGHTS = [15, 70, 10, 4.5, 0.5]
TEMPLATES = [
    "request {n} handled for user {user} in session {session} after {ms} ms with status {status} route /api/v1/{route}",
    "cache {hit} for key {route}:{n} in the embeddings cache after {ms} ms; {size} entries held, {evicted} evicted",
    "model inference finished for conversation {session}: {tokens} tokens generated in {ms} ms at {rate} tokens/s",
    "scheduled job {route} started by {user}; next run in {ms} seconds, previous run took {size} ms and succeeded",
    "websocket frame received from client {user} with {size} bytes on channel {route}; queue depth is now {n}",
    "memory consolidation pass stored {n} episodic memories and pruned {evicted} stale vectors for user {user}",
    "sync with remote replica completed: {n} pages pulled, {evicted} pushed, lag {ms} ms, generation {tokens}",
    "rendering chat view with {n} messages and {size} attachments took {ms} ms on frame {tokens}",
    "configuration value {route} reloaded from disk; {n} subscribers notified within {ms} ms",
    "voice capture buffer at {size} samples, {evicted} dropped, latency {ms} ms for device {route}",
]
WARNINGS = [
    "slow query against the vector index took {ms} ms for user {user}; consider a smaller top_k than {n}",
    "retrying request {n} to {route} after a transient connection reset ({evicted} attempts left)",
    "token budget nearly exhausted for conversation {session}: {tokens} of {size} tokens used",
]
ERRORS = [
    ("TimeoutError", "model inference timed out after {ms} ms for conversation {session} on worker {n}"),
    ("ConnectionRefusedError", "connection refused by {route} while syncing replica generation {tokens}"),
    ("PermissionError", "keyring access denied for user {user} while unlocking the database key"),
    ("ValueError", "invalid payload from client {user}: field {route} must be a positive integer, got -{n}"),
    ("QuotaExceededError", "storage quota exceeded for user {user}: {size} MiB used of {tokens} MiB allowed"),
]
DETAILS = ["while", "the", "assistant", "was", "composing", "a", "reply", "the", "client", "requested", "a",
           "refresh", "of", "the", "conversation", "history", "and", "the", "memory", "service", "returned",
           "partial", "results", "from", "the", "episodic", "store", "because", "the", "vector", "index",
           "was", "still", "warming", "up", "after", "a", "restart"]
WORDS = ["alpha", "bravo", "delta", "echo", "lima", "oscar", "sierra", "tango", "zulu", "kilo", "metro", "nova"]


def _stack(rng: random.Random, kind: str, module: str) -> str:
    frames = [f'  File "/srv/aico/{module.replace(".", "/")}/{rng.choice(FUNCTIONS)}.py", line {rng.randint(10, 900)}, '
              f"in {rng.choice(FUNCTIONS)}\n    {rng.choice(FUNCTIONS)}(request, timeout=timeout)"
              for _ in range(rng.randint(4, 12))]
    return "Traceback (most recent call last):\n" + "\n".join(frames) + f"\n{kind}: operation failed"


def generate(count: int, *, seed: int = 7, days: float = 7.0, start: datetime | None = None
             ) -> Iterator[dict[str, object]]:
    """``count`` records over ``days`` days (by default the last ones, ending now), in time order."""
    rng = random.Random(seed)
    begin = start or datetime.now(UTC) - timedelta(days=days)  # the last ``days`` days, ending now
    step = timedelta(days=days) / max(count, 1)
    made, seq = 0, 0
    while made < count:
        in_trace = rng.random() < 0.85
        size = min(rng.randint(5, 50) if in_trace else 1, count - made)
        trace = f"{rng.getrandbits(128):032x}" if in_trace else None
        session = f"sess-{rng.randint(1, 5000)}"
        user = f"user-{rng.randint(1, 2000)}"
        sub, module = rng.choice(MODULES)
        for k in range(size):
            if rng.random() < 0.3:
                sub, module = rng.choice(MODULES)
            level = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
            fill = {"n": rng.randint(1, 99999), "user": user, "session": session, "ms": rng.randint(1, 30000),
                    "status": rng.choice([200, 200, 200, 201, 204, 400, 404, 500]), "route": rng.choice(WORDS),
                    "hit": rng.choice(["hit", "miss"]), "size": rng.randint(1, 4096), "evicted": rng.randint(0, 50),
                    "tokens": rng.randint(1, 4000), "rate": rng.randint(5, 90)}
            error = None
            if level in ("ERROR", "CRITICAL"):
                kind, text = rng.choice(ERRORS)
                message = text.format(**fill)
                error = json.dumps({"type": kind, "message": message, "stack": _stack(rng, kind, module)})
            elif level == "WARNING":
                message = rng.choice(WARNINGS).format(**fill)
            else:
                message = rng.choice(TEMPLATES).format(**fill)
            if rng.random() < 0.4:
                start_at = rng.randint(0, len(DETAILS) - 10)
                message += "; context: " + " ".join(DETAILS[start_at:start_at + rng.randint(5, 30)])
            seq += 1
            yield {
                "timestamp": format_utc(begin + step * (made + k)), "level": level, "subsystem": sub,
                "module": module, "function": rng.choice(FUNCTIONS),
                "file": f"/srv/aico/{module.replace('.', '/')}.py", "line": rng.randint(1, 900),
                "topic": f"{sub}/{module.split('.')[1]}/{rng.choice(FUNCTIONS)}", "message": message,
                "user_id": user, "trace_id": trace, "session_id": session, "error_details": error,
                "extra": json.dumps({"route": fill["route"], "n": fill["n"]}) if rng.random() < 0.5 else None,
                "severity": None, "origin": "frontend" if sub == "frontend" else "backend",
                "environment": "bench", "producer_id": "bench", "seq": seq,
            }
        made += size
