"""Privacy scrubbing: mask private values, pseudonymise ids, drop fields, count it all by rule.

Used by the analytics ETL before anything reaches DuckDB; usable by the ingest path as well.
"""

from aico.privacy.rules import PrivacyRules
from aico.privacy.scrubber import Scrubber, load_privacy_key

__all__ = ["PrivacyRules", "Scrubber", "load_privacy_key"]
