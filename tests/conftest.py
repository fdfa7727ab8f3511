"""Test configuration: verify the IR after every pass, keep generated files local."""
import os
import tempfile

os.environ.setdefault("ADJOIN_VERIFY", "1")
os.environ.setdefault("ADJOIN_CACHE_DIR", os.path.join(tempfile.gettempdir(),
                                                       f"adjoin-tests-{os.getpid()}"))
