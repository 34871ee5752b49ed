"""The one log record schema: fields, levels, timestamps and the bus wire format."""

from aico.schema.levels import LEVELS, parse_level
from aico.schema.record import COLUMNS, REQUIRED, Record, normalize, to_row, topic_for

__all__ = ["COLUMNS", "LEVELS", "REQUIRED", "Record", "normalize", "parse_level", "to_row", "topic_for"]
