"""The collector: subscribes to ``logs.*``, validates, batches, stores, acknowledges."""
