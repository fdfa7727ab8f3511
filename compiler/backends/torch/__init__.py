"""The torch backend: IR module -> readable Python over torch tensor ops -> a callable.

Assumes: verified IR modules; torch installed (else choosing the backend is a
BackendError).
Guarantees: code reads as the Python backend's (same names, structure and comments) with
torch ops on tensors, loops and branches on the host; compiled functions take tensors of
any device, NumPy arrays (as tensors sharing their memory, on the device of the tensor
arguments, else the CPU) and Python numbers. Results come back as the caller gave: tensors
on the arguments' device and dtype when any argument was a tensor, else NumPy arrays and
Python numbers. A 0-d tensor given for a scalar parameter is read on the host (one sync).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from ...errors import BackendError
from ...ir.core import Module
from ...runtime import is_tensor
from ..base import Backend, check_tuple, register, scalar_cotangent
from ..python import compile_module, _module_source
from .emit import TorchEmitter

IMPORTS: Dict[str, str] = {"math": "import math", "np": "import numpy as np",
                           "torch": "import torch",
                           "rt": "from adjoin.runtime import pyops as rt",
                           "tt": "from adjoin.runtime import torchops as tt",
                           "ti": "from adjoin.runtime import torch_indexing as ti"}

_NUMPY_FOR = {"float64": np.float64, "float32": np.float32, "int64": np.int64,
              "bool": np.bool_}


class TorchBackend(Backend):
    """Python over torch: the same code on CPU and CUDA tensors."""

    name = "torch"
    direct_calls = False  # NumPy arguments become tensors on every call

    def check_available(self) -> None:
        try:
            import torch  # noqa: F401
        except ImportError as e:  # pragma: no cover - torch is installed in tests
            raise BackendError(f"the torch backend needs PyTorch ({e}); pip install "
                               "'adjoin[torch]'") from None

    def compile(self, module: Module, entries: Sequence[str], header: str,
                error_model: str) -> List[Callable]:
        c = compile_module(module, entries[0], header, TorchEmitter, IMPORTS, _opaque)
        return [c.namespace[e] for e in entries]  # type: ignore[misc]

    def source(self, module: Module, entry: str, header: str, error_model: str) -> str:
        return _module_source(module, header, TorchEmitter, IMPORTS)[0]

    def arguments(self, values: Tuple[Any, ...], names: Sequence[str]):
        import torch
        device = _device_of(values, names)
        tensors_in = device is not None
        device = device or torch.device("cpu")
        copies: List[Tuple[np.ndarray, Any]] = []
        out = tuple(_to_torch(v, device, copies) for v in values)

        def finish(result: Any) -> Any:
            for array, tensor in copies:  # arrays torch could not share: write back
                array[...] = tensor.cpu().numpy()
            return result if tensors_in else _to_numpy(result)
        return out, finish

    def copy_into(self, destination: Any, source: Any) -> None:
        destination.copy_(source)

    def cotangent(self, ct: Any, value: Any, fname: str) -> Any:
        import torch
        if isinstance(value, tuple):
            return tuple(self.cotangent(c, v, fname)
                         for c, v in zip(check_tuple(ct, value, fname), value))
        if isinstance(value, torch.Tensor) and (value.dim() or value.is_floating_point()):
            if not isinstance(ct, (torch.Tensor, np.ndarray, float, int, np.generic)):
                raise TypeError(f"adjoin: the cotangent of {fname}()'s output must be a "
                                f"tensor, an array or a number, got {type(ct).__name__}")
            t = torch.as_tensor(ct, dtype=value.dtype, device=value.device)
            if t.shape != value.shape:
                t = t.expand(value.shape).clone()  # a RuntimeError names a shape mismatch
            return t
        return scalar_cotangent(ct, value.item() if is_tensor(value) else value, fname)

    def zeros_like(self, value: Any) -> Any:
        import torch
        return torch.zeros_like(value)


def _opaque(spec) -> Callable:
    """A custom rule's function as the torch code calls it: torch steps take tensors,
    functions written for NumPy get NumPy arrays (a copy to the host) and give back
    tensors on the arguments' device."""
    if spec.kind == "torch.opaque":
        return spec.fn
    from ...runtime.torchops import numpy_call
    return numpy_call(spec.fn)


def _device_of(values: Sequence[Any], names: Sequence[str]):
    found = None
    for i, v in enumerate(_leaves(values)):
        if is_tensor(v) and v.dim():
            if found is not None and v.device != found:
                raise ValueError(f"adjoin: the tensor arguments are on {found} and "
                                 f"{v.device}; move them to one device")
            found = v.device
    return found


def _leaves(values):
    for v in values:
        if isinstance(v, tuple):
            yield from _leaves(v)
        else:
            yield v


def _to_torch(v: Any, device, copies: list) -> Any:
    import torch
    if isinstance(v, tuple):
        return tuple(_to_torch(x, device, copies) for x in v)
    if isinstance(v, np.ndarray):
        dtype = np.int64 if v.dtype == np.int32 else v.dtype
        if v.dtype == dtype and all(s >= 0 for s in v.strides) and v.flags.writeable:
            return torch.from_numpy(v).to(device)
        t = torch.from_numpy(np.array(v, dtype=dtype)).to(device)
        if v.flags.writeable:
            copies.append((v, t))
        return t
    if is_tensor(v):
        if v.dim() == 0:
            return v.item()  # a scalar parameter: read on the host
        return v if v.device == device else v.to(device)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _to_numpy(v: Any) -> Any:
    if isinstance(v, tuple):
        return tuple(_to_numpy(x) for x in v)
    if is_tensor(v):
        v = v.detach().cpu()
        return v.item() if v.dim() == 0 else v.numpy()
    return v


register(TorchBackend())
