"""Personal data handling: redaction of identifying details before text leaves the machine."""

from jobmatch.privacy.redact import PLACEHOLDERS, Redaction, redact

__all__ = ["PLACEHOLDERS", "Redaction", "redact"]
