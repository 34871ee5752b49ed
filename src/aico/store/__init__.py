"""The encrypted libSQL log store: key, connection, migrations and the repository."""

from aico.store.repository import InsertResult, LogStore

__all__ = ["InsertResult", "LogStore"]
