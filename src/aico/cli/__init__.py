"""The ``aico`` command-line interface."""
