"""adjoin as a GradBench tool: `python -m adjoin.gradbench` speaks GradBench's protocol.

Assumes: GradBench (github.com/gradbench/gradbench) drives the session over stdin/stdout.
Guarantees: the evals hello, llsq, ode, lse, det, kmeans, lstm, gmm, ba and ht, each written
as plain Python (models_*.py) and compiled by adjoin (llvm backend by default); protocol.py
holds the message loop, evals_*.py the input and output conversions.
"""
