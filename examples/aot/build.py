"""Compile chain.py's function and its gradient into a shared library, then use it
from C (main.c) and from Python (use_library.py).

    python examples/aot/build.py [OUT]

writes OUT (default examples/aot/build/): libchain_energy.so, chain_energy.h (the C API) and
chain_energy.py (the Python loader), and the C program `main`. The same library
comes from the command line with

    adjoin aot examples/aot/chain.py:chain_energy --signature "f64[:, :], f64, f64" \\
        --wrt pos -o examples/aot/build
"""
import os
import subprocess
import sys

import adjoin
from adjoin.aot import c_compiler

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(HERE, "build")
sys.path.insert(0, HERE)
from chain import chain_energy  # noqa: E402


def main() -> None:
    art = adjoin.compile_aot(chain_energy, "f64[:, :], f64, f64", OUT, wrt="pos")
    print("built", os.path.relpath(art.library, HERE), "with", os.path.relpath(art.header, HERE),
          "and", os.path.relpath(art.loader, HERE))
    exe = os.path.join(OUT, "main")
    subprocess.run(c_compiler().split() + ["-std=c99", "-O2", "-o", exe,
                                           os.path.join(HERE, "main.c"), f"-I{OUT}", f"-L{OUT}",
                                           "-lchain_energy", f"-Wl,-rpath,{OUT}"], check=True)
    subprocess.run([exe], check=True)
    subprocess.run([sys.executable, os.path.join(HERE, "use_library.py"), OUT], check=True)


if __name__ == "__main__":
    main()
