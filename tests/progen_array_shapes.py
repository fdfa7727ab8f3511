"""Symbolic shapes of the array expressions that tests/progen_numpy*.py draw.

Assumes: the drawn function has a 1-d array argument `a` of length m and a 2-d array
argument `B` of shape (p, m) (m in 1..4, p in 1..3).
Guarantees: a shape is a tuple of axis names ("m", "p", "1"); `LENGTH` spells each
named length in the generated code, `BROADCASTS` lists pairs of operand shapes that
broadcast to each shape by NumPy's rules.
"""
from typing import Dict, List, Tuple

Shape = Tuple[str, ...]
S: Shape = ()              # a scalar
V: Shape = ("m",)          # like a
P: Shape = ("p",)          # like a column of B
M: Shape = ("p", "m")      # like B
R: Shape = ("1", "m")      # a row as a matrix
C: Shape = ("p", "1")      # a column as a matrix
Q: Shape = ("p", "p")      # a square matrix, well conditioned (linear algebra)
ARRAY_SHAPES = (V, P, M, R, C)
IND = "    "

LENGTH: Dict[str, str] = {"m": "len(a)", "p": "B.shape[0]"}

# Pairs of operand shapes that broadcast to each shape (besides scalar operands).
BROADCASTS: Dict[Shape, List[Tuple[Shape, Shape]]] = {
    V: [(V, V)],
    P: [(P, P)],
    M: [(M, M), (M, V), (V, M), (M, R), (R, M), (C, M), (M, C), (C, V), (V, C), (C, R),
        (R, C)],
    R: [(R, R), (R, V), (V, R)],
    C: [(C, C)],
}
