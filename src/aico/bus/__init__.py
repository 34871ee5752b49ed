"""The ZeroMQ message bus: socket factory, broker and probe."""
