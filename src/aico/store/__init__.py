"""The encrypted libSQL log store: key, connection, migrations, and the parts ``LogStore`` holds."""

from aico.store.repository import InsertResult, LogStore

__all__ = ["InsertResult", "LogStore"]
