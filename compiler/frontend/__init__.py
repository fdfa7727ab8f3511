"""adjoin frontend.

The primitive registry is loaded with the package: its modules import one another in one
order only (primitives first, then the NumPy registries), whichever module is asked first.
"""
from . import primitives  # noqa: F401
