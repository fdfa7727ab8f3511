"""`python -m adjoin.gradbench [--backend llvm|python|torch]`: adjoin as a GradBench tool.

Assumes: GradBench's eval on the other end of stdin/stdout (see protocol.py).
Guarantees: answers every message until stdin closes; exits 0.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .evals_common import BACKEND
from .protocol import serve


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m adjoin.gradbench",
                                description="adjoin as a GradBench tool (JSON lines on stdin)")
    p.add_argument("--backend", default="llvm", choices=("llvm", "python", "torch"),
                   help="adjoin backend that runs the compiled code (default llvm)")
    args = p.parse_args(argv)
    BACKEND["name"] = args.backend
    return serve(sys.stdin, sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
