"""Test infrastructure (no tests here): config composition, data files, threads, training and report helpers.

Test modules import from here, never from each other.
"""

from tests.helpers.config import CONF, FAST, FIXTURES, ROOT, SHARED_SAMPLE, cfg_for, compose_config
from tests.helpers.data import split_files
from tests.helpers.threads import one_thread

__all__ = ["CONF", "FAST", "FIXTURES", "ROOT", "SHARED_SAMPLE", "cfg_for", "compose_config", "one_thread",
           "split_files"]
