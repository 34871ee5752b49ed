"""Compatibility namespace for the documented ``aico.core.logging_context`` API."""
