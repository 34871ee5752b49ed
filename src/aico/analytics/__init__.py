"""Analytics: an incremental, privacy-scrubbed ETL from the log store into an encrypted DuckDB."""
