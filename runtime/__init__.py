"""adjoin.runtime: what generated code calls while it runs.

This package never imports the compiler (`adjoin.frontend`, `adjoin.ir`, ...), so
an ahead-of-time artifact loads with the runtime alone.
"""
