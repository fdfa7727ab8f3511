"""adjoin.runtime: what generated code calls while it runs.

This package never imports the compiler (`adjoin.frontend`, `adjoin.ir`, ...), so
an ahead-of-time artifact loads with the runtime alone.
"""
# The single source of adjoin's version; `adjoin.__version__` reads it from here.
# An ahead-of-time library records both and is refused by a runtime of another
# version (the native calling convention may change between versions).
__version__ = "0.1.0"
ABI_VERSION = 2


def is_tensor(value) -> bool:
    """Whether `value` is a torch tensor (asked without importing torch)."""
    import sys
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)
