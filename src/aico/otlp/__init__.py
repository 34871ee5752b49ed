"""OpenTelemetry logs (OTLP) on both sides of the store.

``decode``: an ``ExportLogsServiceRequest`` (protobuf or OTLP JSON) to our records, for the
bridge's ``POST /v1/logs``. ``encode``: stored records to a request, for the ``log_otlp_export``
plugin (``exporter.py``). ``values``: OTLP ``AnyValue`` to and from plain values. The mapping
table is in the README's "OpenTelemetry" section.
"""
