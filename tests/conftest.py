"""Test configuration: verify the IR after every pass, check native memory (guard words
around every allocation of the llvm backend), keep generated files local."""
import atexit
import os
import shutil
import tempfile

os.environ.setdefault("ADJOIN_VERIFY", "1")
os.environ.setdefault("ADJOIN_CHECK_MEMORY", "1")
# Never the user's real disk cache (platformdirs' folder): a folder of this session, and
# a fresh one for each test (`_fresh_disk_cache`).
# Removed when the run ends: a test run leaves nothing in the temp folder.
os.environ["ADJOIN_CACHE_DIR"] = _SESSION_CACHE = tempfile.mkdtemp(prefix="adjoin-tests-")
atexit.register(shutil.rmtree, _SESSION_CACHE, True)

# The suite draws the same examples on every run (CI must not turn red by chance);
# HYPOTHESIS_RANDOM=1, a hunt (PROGEN_HUNT) or PROGEN_EXAMPLES draws fresh ones.
from hypothesis import settings as _settings  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402

set_hypothesis_home_dir(os.path.join(_SESSION_CACHE, "hypothesis"))  # not the checkout

_FRESH = ("HYPOTHESIS_RANDOM", "PROGEN_HUNT", "PROGEN_EXAMPLES")
# No example database: a test run writes nothing into the checkout (.hypothesis).
_settings.register_profile("adjoin", derandomize=not any(os.environ.get(v) for v in _FRESH),
                           database=None)
_settings.load_profile("adjoin")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_disk_cache(monkeypatch, tmp_path_factory):
    """Each test starts with an empty disk cache of its own: counts of compilations and
    compile times are never those of a warm cache left by another test."""
    monkeypatch.setenv("ADJOIN_CACHE_DIR", str(tmp_path_factory.mktemp("adjoin-cache")))
