"""The GradBench tool protocol: one JSON message per line in, one JSON answer per line out.

Assumes: the eval sends `start`, `define`, `evaluate`, `analysis` (and maybe other kinds),
each an object with an integer `id`, as GradBench's protocol describes.
Guarantees: every message with a readable id gets exactly one answer carrying that id,
flushed at once; `start` answers with the tool name and its configuration; `define`
compiles every function of a known module on small inputs and reports that time as a
"compile" timing; `evaluate` runs the function at least `min_runs` times and until
`min_seconds` have accumulated, one {"name": "evaluate", "nanoseconds": T} per run timing
the compiled call alone (input conversion, a first untimed warm-up call, reported as
"warmup", and output encoding are outside it). Any failure inside a message becomes
`"success": false` with an error string; a line that is not a JSON object gets an error on
stderr (and a failure answer when an id can be read from it); the loop never dies on
one message.
"""
from __future__ import annotations

import json
import re
import time
from typing import Any, Dict, IO, Optional

from .evals_common import BACKEND, Eval, InputError


def all_evals() -> Dict[str, Eval]:
    from .evals_dense import EVALS as dense
    from .evals_sparse import EVALS as sparse
    return {**dense, **sparse}


class Session:
    def __init__(self) -> None:
        self.evals = all_evals()
        self.defined: set = set()

    def handle(self, msg: Dict[str, Any]) -> Dict[str, Any]:
        kind, mid = msg.get("kind"), msg["id"]
        if kind == "start":
            import adjoin
            return {"id": mid, "tool": "adjoin",
                    "config": {"backend": BACKEND["name"], "version": adjoin.__version__,
                               "evals": sorted(self.evals)}}
        if kind == "define":
            return {"id": mid, **self.define(msg.get("module"))}
        if kind == "evaluate":
            return {"id": mid, **self.evaluate(msg)}
        return {"id": mid}  # analysis and any kind this tool does not know

    def define(self, module: Any) -> Dict[str, Any]:
        ev = self.evals.get(module) if isinstance(module, str) else None
        if ev is None:
            return {"success": False, "error": f"adjoin does not implement module {module!r}"}
        t0 = time.perf_counter_ns()
        try:
            for example in ev.examples:
                for prepare in ev.functions.values():
                    prepare(example).call()
        except Exception as e:  # a compile failure is this module's, not the session's
            return {"success": False, "error": describe(e)}
        self.defined.add(module)
        return {"success": True,
                "timings": [{"name": "compile", "nanoseconds": time.perf_counter_ns() - t0}]}

    def evaluate(self, msg: Dict[str, Any]) -> Dict[str, Any]:
        module, function = msg.get("module"), msg.get("function")
        ev = self.evals.get(module) if isinstance(module, str) else None
        if ev is None:
            return {"success": False, "error": f"adjoin does not implement module {module!r}"}
        prepare = ev.functions.get(function) if isinstance(function, str) else None
        if prepare is None:
            return {"success": False, "error": f"module {module!r} has no function "
                                               f"{function!r} (it has {sorted(ev.functions)})"}
        try:
            inp = msg.get("input")
            min_runs, min_seconds = runs(inp)
            prepared = prepare(inp)
            t0 = time.perf_counter_ns()
            prepared.call()  # compiles for a new input signature; adjoin keeps the code
            timings = [{"name": "warmup", "nanoseconds": time.perf_counter_ns() - t0}]
            total, count, result = 0, 0, None
            while count < min_runs or total < min_seconds * 1e9:
                t0 = time.perf_counter_ns()
                result = prepared.call()
                elapsed = time.perf_counter_ns() - t0
                timings.append({"name": "evaluate", "nanoseconds": elapsed})
                total, count = total + elapsed, count + 1
            return {"success": True, "output": prepared.output(result), "timings": timings}
        except Exception as e:
            return {"success": False, "error": describe(e)}


def runs(inp: Any) -> tuple:
    """(min_runs, min_seconds) of an input; hello's inputs have neither."""
    if not isinstance(inp, dict):
        return 1, 0.0
    min_runs, min_seconds = inp.get("min_runs", 1), inp.get("min_seconds", 0.0)
    if isinstance(min_runs, bool) or not isinstance(min_runs, int) or min_runs < 1:
        raise InputError(f"min_runs must be a positive integer, got {min_runs!r}")
    if isinstance(min_seconds, bool) or not isinstance(min_seconds, (int, float)) or \
            min_seconds < 0:
        raise InputError(f"min_seconds must be a number >= 0, got {min_seconds!r}")
    return min_runs, float(min_seconds)


def describe(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


_ID = re.compile(r'"id"\s*:\s*(-?\d+)')


def serve(stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    session = Session()
    for line in stdin:
        if not line.strip():
            continue
        answer = answer_line(session, line, stderr)
        if answer is not None:
            stdout.write(json.dumps(answer) + "\n")
            stdout.flush()
    return 0


def answer_line(session: Session, line: str, stderr: IO[str]) -> Optional[Dict[str, Any]]:
    try:
        msg = json.loads(line)
    except ValueError as e:
        msg, problem = None, f"not JSON ({e})"
    else:
        problem = None if isinstance(msg, dict) and isinstance(msg.get("id"), int) and \
            not isinstance(msg.get("id"), bool) else "not an object with an integer 'id'"
    if problem is None:
        try:
            return session.handle(msg)
        except Exception as e:  # last resort: the session goes on
            problem = f"internal error: {describe(e)}"
            print(f"adjoin.gradbench: message {msg['id']}: {problem}", file=stderr, flush=True)
            return {"id": msg["id"], "success": False, "error": problem}
    print(f"adjoin.gradbench: ignoring a line that is {problem}: {line.strip()[:200]}",
          file=stderr, flush=True)
    found = _ID.search(line)
    if found is None:
        return None
    return {"id": int(found.group(1)), "success": False, "error": f"malformed message: {problem}"}
