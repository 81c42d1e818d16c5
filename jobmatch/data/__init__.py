"""Records, JSONL readers and writers, the DataModule and its collators."""

from jobmatch.data.readers import DataFormatError, read_contrastive, read_preferences
from jobmatch.data.records import ContrastiveRecord, PreferenceRecord

__all__ = [
    "ContrastiveRecord",
    "DataFormatError",
    "PreferenceRecord",
    "read_contrastive",
    "read_preferences",
]
