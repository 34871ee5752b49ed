"""Configuration: packaged defaults, the user's file, then environment overrides."""

from aico.config.loader import aico_home, load_settings
from aico.config.settings import Settings

__all__ = ["Settings", "aico_home", "load_settings"]
