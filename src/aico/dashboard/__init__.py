"""The log dashboard: a single page and its read-only JSON API, served by plugin ``log_dashboard``."""
