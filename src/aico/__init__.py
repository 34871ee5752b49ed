"""aico-logging: unified, privacy-first logging for a local-first AI companion.

The record travels: application -> ``aico.logging`` -> ``aico.bus`` -> ``aico.collector``
-> ``aico.store`` -> ``aico.cli``. ``aico.schema`` is the one record schema they all import.
"""

__version__ = "0.1.0"
