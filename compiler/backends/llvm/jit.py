"""LLVM IR text to machine code: verification, O3 optimization, MCJIT.

Assumes: a module produced by `lower.py` plus entry points.
Guarantees: `optimize(text)` returns a verified `ModuleRef` optimized by `PIPELINE`
for the host CPU; `machine_code(text)` its object code (from the disk cache's `objects/`
when there, keyed by the IR text: see `cache.py`); `load(obj)` an engine holding
object code, kept alive for the process, from which function addresses are read;
`jit(text)` both. A module that fails LLVM's verifier raises BackendError with
LLVM's message (a compiler bug, never the user's).
"""
from __future__ import annotations

from typing import List

import llvmlite.binding as llvm

from ...errors import BackendError
from . import cache

_ENGINES: List[object] = []
_TM = None
PIPELINE = "O3 unroll=0 interleave=0"  # what `tuning` sets; part of the disk cache's keys


def target_machine(jit: bool = True, reloc: str = "default", cpu: str = "host"):
    """The host's target machine; `cpu` other than "host" (e.g. "x86-64-v2", "generic")
    targets that CPU instead, without the host's extra features."""
    global _TM
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    if jit and _TM is not None:
        return _TM
    target = llvm.Target.from_default_triple()
    host = cpu == "host"
    tm = target.create_target_machine(cpu=llvm.get_host_cpu_name() if host else cpu,
                                      features=llvm.get_host_cpu_features().flatten()
                                      if host else "", opt=3,
                                      reloc=reloc, codemodel="jitdefault" if jit else "default",
                                      jit=jit)
    if jit:
        _TM = tm
    return tm


def tuning():
    """O3 without loop unrolling and interleaving: every array op is a small outlined loop
    that the vectorizer already widens; unrolling it (and its scalar remainder) and
    interleaving vector iterations made about a third of the machine code and of LLVM's
    time, for no measured run-time gain (docs/llvm-backend.md#compile-time)."""
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_unrolling = False
    pto.loop_interleaving = False
    return pto


def parse(text: str):
    try:
        mod = llvm.parse_assembly(text)
        mod.verify()
    except RuntimeError as e:
        raise BackendError(f"internal: LLVM rejected the generated IR: {e}") from None
    return mod


def optimize(text: str, tm=None):
    tm = tm or target_machine()
    mod = parse(text)
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    pb = llvm.create_pass_builder(tm, tuning())
    pb.getModulePassManager().run(mod, pb)
    return mod


def machine_code(text: str, kind: str = "objects") -> bytes:
    """Object code for the host (from the disk cache's folder `kind`, or compiled and put
    there); compiles into `objects` are counted in compile_phases (the shared runtime's,
    in `runtime`, are not)."""
    from ...compile_phases import count
    tm = target_machine()
    k = cache.key(text, tm, PIPELINE) if cache.cache_dir(kind) is not None else None
    obj = cache.load(k, kind) if k is not None else None
    if obj is None:
        if kind == "objects":
            count("llvm")
        obj = tm.emit_object(optimize(text, tm))
        if k is not None:
            cache.store(k, obj, kind)
    return obj


def load(obj: bytes):
    """An engine running object code (relocated against the symbols added to LLVM)."""
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target_machine())
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    _ENGINES.append(engine)
    return engine


def jit(text: str):
    return load(machine_code(text))


def object_code(text: str, cpu: str = "host") -> bytes:
    """Position-independent object code for a shared library, optimized at O3."""
    tm = target_machine(jit=False, reloc="pic", cpu=cpu)
    return tm.emit_object(optimize(text, tm))
