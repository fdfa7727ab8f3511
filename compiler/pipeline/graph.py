"""Pipelines: primitives wired into a DAG, run forward, differentiated end to end, trained.

Assumes: steps are `Primitive`s listed in an order where every step's sources come before it;
a source is an earlier step's name or a pipeline input ("input" for a single array, the keys
of a dict of arrays otherwise). The last step is the output and scores the targets.
Guarantees:
  * values cross between steps in the kind each step takes (float64 NumPy arrays, or
    tensors in a torch step's dtype and device); gradients come back the same way;
  * with L samples, every stochastic step draws L outputs per row; the rows of values that
    do not depend on a draw are tiled to match, and their gradients are summed back; the
    end-to-end log-likelihood of each example is log (1/L) sum_l p(y | z_l, x), whose
    gradient weighs draw l by its normalised likelihood (the pipeline is the proposal);
  * the training loss is -(1/N) [sum over the batch (scaled to N) of that log-likelihood +
    sum of the local training terms + sum of log priors], N the number of examples;
  * `check` (run by `fit` before the first step) raises PipelineError naming the step for a
    shape that does not fit, a backprop asked of a step that has none, a last step with no
    log-likelihood, or any failure of a step on the first rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import PipelineError
from .primitive import Primitive, _convert, _numpy, _rows, _tile
from .training import batches, minimise, process_group

__all__ = ["Pipeline"]


@dataclass
class _Step:
    name: str
    primitive: Primitive
    sources: Tuple[str, ...]
    tiled: List[int] = field(default_factory=list)  # per source: draws it was tiled to


class Pipeline:
    """A DAG of primitives trained end to end (see the module docstring).

    Steps run in the order given; the last step is the output and scores the targets.
    `pipe[name]` is the step's primitive.

    Args:
        steps: a list of `(name, primitive)` (its source is the step before, or "input") or
            `(name, primitive, sources)` with `sources` a name or a tuple of names.

    Attributes:
        steps: the steps, in order.
        history: one dict per optimizer step of every `fit` so far.

    Raises:
        PipelineError: no steps, an entry that is not a tuple of 2 or 3, a step that is not
            a `Primitive`, or a name used twice.

    Example:
        >>> from adjoin import pipeline as pl
        >>> def line(p, x):
        ...     return x @ p["w"] + p["b"]
        >>> def gaussian(p, x, y):
        ...     r = y - line(p, x)
        ...     return -0.5 * r * r
        >>> step = pl.Function(line, {"w": np.zeros(1), "b": 0.0}, log_likelihood=gaussian,
        ...                    backend="python")
        >>> pipe = pl.Pipeline([("line", step)])
        >>> pipe
        Pipeline(line<-input)
        >>> pipe["line"] is step
        True
    """

    def __init__(self, steps: Sequence[tuple]):
        self.steps: List[_Step] = []
        self.history: List[dict] = []
        seen = {"input"}
        for i, entry in enumerate(steps):
            self.steps.append(self._step(i, entry, seen))
            seen.add(self.steps[-1].name)
        if not self.steps:
            raise PipelineError("a Pipeline needs at least one step")

    def _step(self, i: int, entry: Any, seen: set) -> _Step:
        if not isinstance(entry, tuple) or len(entry) not in (2, 3):
            raise PipelineError(f"step {i}: expected (name, primitive) or (name, primitive, "
                                f"sources), got {entry!r}")
        name, prim = entry[0], entry[1]
        if not isinstance(prim, Primitive):
            hint = (" (wrap a function with adjoin.pipeline.Function(fn, params), a torch "
                    "module with TorchModule, a scikit-learn estimator with SklearnTransform)")
            raise PipelineError(f"step {name!r} is a {type(prim).__name__}, not a primitive{hint}")
        if name in seen:
            raise PipelineError(f"step name {name!r} is used twice")
        if len(entry) == 3:
            sources = (entry[2],) if isinstance(entry[2], str) else tuple(entry[2])
        else:
            sources = (self.steps[-1].name if self.steps else "input",)
        if not prim.name_given:
            prim.name = name
        return _Step(name, prim, sources)

    # -- access -----------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Primitive:
        for s in self.steps:
            if s.name == name:
                return s.primitive
        raise KeyError(f"no step named {name!r}; the steps are {[s.name for s in self.steps]}")

    def __repr__(self) -> str:
        parts = ", ".join(f"{s.name}<-{'+'.join(s.sources)}" for s in self.steps)
        return f"Pipeline({parts})"

    @property
    def parameters(self) -> Dict[str, Any]:
        """Every step's parameters, by step name."""
        return {s.name: s.primitive.parameters for s in self.steps}

    @property
    def gradients(self) -> Dict[str, Any]:
        """Every step's accumulated gradients, by step name."""
        return {s.name: s.primitive.gradients for s in self.steps}

    def freeze(self, *names: str) -> "Pipeline":
        """Keep the named steps' parameters fixed in training.

        Args:
            *names: step names.

        Returns:
            This pipeline.

        Raises:
            KeyError: no step has one of the names.
        """
        for n in names:
            self[n].frozen = True
        return self

    def unfreeze(self, *names: str) -> "Pipeline":
        """Train the named steps' parameters again.

        Args:
            *names: step names.

        Returns:
            This pipeline.

        Raises:
            KeyError: no step has one of the names.
        """
        for n in names:
            self[n].frozen = False
        return self

    def tensors(self) -> List[torch.Tensor]:
        """The leaf tensors an optimizer updates.

        Returns:
            The unfrozen steps' parameter tensors, each once.
        """
        out, ids = [], set()
        for s in self.steps:
            if not s.primitive.frozen:
                for t in s.primitive.tensors():
                    if id(t) not in ids:
                        ids.add(id(t))
                        out.append(t)
        return out

    def zero_grad(self) -> None:
        """Clear every step's accumulated gradients."""
        for s in self.steps:
            s.primitive.zero_grad()

    # -- running forward ----------------------------------------------------------------------

    def produce(self, x: Any) -> Any:
        """The pipeline's output (stochastic steps give their mean).

        Args:
            x: the input rows (an array, or a dict of arrays for named inputs).

        Returns:
            The last step's output: a NumPy array unless the input is a tensor.
        """
        return self._output(x, self._forward(x, samples=0, record=False, upto=None)[0])

    def sample(self, x: Any, n: int = 1) -> Any:
        """n draws of the output per row.

        Args:
            x: the input rows (an array, or a dict of arrays for named inputs).
            n: draws per row for every stochastic step.

        Returns:
            The last step's output for `n` draws, draw-major rows.
        """
        return self._output(x, self._forward(x, samples=n, record=False, upto=None)[0])

    def _output(self, x: Any, values: Dict[str, Any]) -> Any:
        out = values[self.steps[-1].name]
        tensors = any(isinstance(v, torch.Tensor) for v in self._inputs(x).values())
        return out if tensors or not isinstance(out, torch.Tensor) else _numpy(out)

    def log_likelihood(self, x: Any, y: Any, samples: int = 1) -> np.ndarray:
        """The end-to-end log p(y | x) of each example, estimated with `samples` draws.

        Args:
            x: the input rows (an array, or a dict of arrays for named inputs).
            y: the targets, one per row.
            samples: draws L per stochastic step: log (1/L) sum_l p(y | z_l, x).

        Returns:
            A float64 array, one log-likelihood per example.
        """
        ll, _ = self._score(x, y, samples, record=False)
        return _log_mean_exp(ll)

    def _inputs(self, x: Any) -> Dict[str, Any]:
        return dict(x) if isinstance(x, dict) else {"input": x}

    def _forward(self, x: Any, samples: int, record: bool, upto: Optional[int]):
        """(values, draws per row) of every input and step before `upto`."""
        values = self._inputs(x)
        reps = {k: 1 for k in values}
        needs = self._needs_backprop() if record else {}
        for step in self.steps[:upto]:
            ins, rep = self._gather(step, values, reps)
            prim = step.primitive
            prim.recording = bool(needs.get(step.name))
            draws = samples if prim.stochastic and samples and rep == 1 else 1
            try:
                if prim.stochastic and samples:
                    values[step.name] = prim.sample(*ins, n=draws)
                else:
                    values[step.name] = prim.produce(*ins)
            except PipelineError:
                raise
            except Exception as e:
                raise _step_failed(step, ins, e) from e
            reps[step.name] = rep * draws
        return values, reps

    def _gather(self, step: _Step, values: Dict[str, Any], reps: Dict[str, int]):
        for src in step.sources:
            if src not in values:
                raise PipelineError(f"step {step.name!r} reads {src!r}, which is neither an "
                                    f"earlier step nor a pipeline input ({sorted(values)})")
        rep = max(reps[s] for s in step.sources)
        step.tiled, ins = [], []
        for src in step.sources:
            v = values[src]
            if reps[src] != rep:
                v = _tile(v, rep // reps[src])
            step.tiled.append(rep // reps[src])
            ins.append(_convert(v, step.primitive))
        _check_input_shapes(step, ins)
        return ins, rep

    # -- the objective ------------------------------------------------------------------------

    def _score(self, x: Any, y: Any, samples: int, record: bool):
        last = self.steps[-1]
        values, reps = self._forward(x, samples=samples, record=record, upto=-1)
        ins, rep = self._gather(last, values, reps)
        prim = last.primitive
        prim.recording = record
        target = _convert(_tile(y, rep) if rep > 1 else y, prim, keep_int=True)
        try:
            ll = prim.log_likelihood(*ins, outputs=target)
        except PipelineError:
            raise
        except Exception as e:
            raise _step_failed(last, ins, e) from e
        ll = _numpy(ll)
        if ll.ndim == 0 and rep > 1:
            raise PipelineError(f"step {last.name!r}: its log-likelihood is a total; with "
                                "samples > 1 it must give one value per example")
        return (ll.reshape(rep, -1) if ll.ndim else ll), rep

    def _objective(self, x: Any, y: Any, samples: int, total_rows: int) -> float:
        """Loss of the batch (x, y) scaled by 1/total_rows; gradients accumulated."""
        ll, rep = self._score(x, y, samples, record=True)
        if ll.ndim == 0:
            cotangent, value = np.float64(-1.0 / total_rows), float(ll)
        else:
            weights = np.exp(ll - ll.max(axis=0))
            weights /= weights.sum(axis=0)
            cotangent = (-weights / total_rows).reshape(-1)
            value = float(_log_mean_exp(ll).sum())
        self._backprop(cotangent)
        return -value / total_rows

    def _backprop(self, cotangent: Any) -> None:
        needs = self._needs_backprop()
        grads: Dict[str, Any] = {self.steps[-1].name: cotangent}
        for step in reversed(self.steps):
            g = grads.pop(step.name, None)
            if g is None or not needs[step.name]:
                continue
            prim = step.primitive
            if step is not self.steps[-1]:
                g = _convert(g, prim)
            in_grads = prim.backprop(g)
            in_grads = in_grads if isinstance(in_grads, tuple) else (in_grads,)
            for src, times, gi in zip(step.sources, step.tiled, in_grads):
                if gi is None or not needs.get(src):
                    continue
                gi = _untile(_numpy(gi), times)
                grads[src] = gi if src not in grads else grads[src] + gi

    def _needs_backprop(self) -> Dict[str, bool]:
        """Steps whose backprop must run: trainable, or downstream of a trainable step."""
        needs: Dict[str, bool] = {}
        for s in self.steps:
            upstream = any(needs.get(src, False) for src in s.sources)
            needs[s.name] = upstream or (not s.primitive.frozen and bool(s.primitive.tensors()))
        return needs

    # -- checks and training ----------------------------------------------------------------

    def check(self, x: Any, y: Any, rows: int = 4) -> None:
        """Run one objective step on the first rows; gradients are cleared after.

        Args:
            x: the input rows (an array, or a dict of arrays for named inputs).
            y: the targets.
            rows: how many of the first rows to run.

        Returns:
            None.

        Raises:
            PipelineError: a shape that does not fit, a backprop asked of a step that has
                none, a last step with no log-likelihood, or any failure of a step on
                these rows (the message names the step).
        """
        needs = self._needs_backprop()
        for s in self.steps:
            upstream = [src for src in s.sources if needs.get(src)]
            if upstream and not s.primitive.differentiable:
                raise PipelineError(
                    f"step {s.name!r} ({type(s.primitive).__name__}) cannot backprop to its "
                    f"inputs, but {', '.join(map(repr, upstream))} before it is trainable: "
                    f"freeze {', '.join(map(repr, upstream))} or replace {s.name!r}")
        last = self.steps[-1].primitive
        if not _scores(last):
            raise PipelineError(f"the last step {self.steps[-1].name!r} has no log-likelihood "
                                "to train on: give it log_likelihood= or loss=")
        idx = np.arange(min(rows, _len(y)))
        self._objective(_select(x, idx), _rows(y, idx), 1, len(idx))
        self.zero_grad()

    def pretrain(self, **fit_options: Any) -> "Pipeline":
        """`fit()` every step that has local training data, in order.

        Args:
            **fit_options: passed to each step's `Primitive.fit`.

        Returns:
            This pipeline.
        """
        for s in self.steps:
            if s.primitive.training_data is not None:
                s.primitive.fit(**fit_options)
        return self

    def fit(self, x: Any, y: Any, *, steps: int = 100, batch_size: Optional[int] = None,
            lr: float = 1e-2, optimizer: Optional[Callable] = None, samples: int = 1,
            progress: bool = True, seed: int = 0,
            callback: Optional[Callable[["Pipeline", int], Dict[str, float]]] = None,
            callback_every: int = 1, distributed: Any = None) -> List[dict]:
        """Train every unfrozen step end to end on (x, y); returns this fit's history.

        Args:
            x, y: inputs (an array, or a dict of arrays for named inputs) and targets,
                rows = examples.
            steps: optimizer steps; batch_size: rows per step (None: all).
            lr, optimizer: a torch.optim class (default Adam) and its learning rate.
            samples: draws L per stochastic step for the end-to-end likelihood.
            progress: show a tqdm bar with the loss.
            callback: `callback(pipeline, step) -> dict` of numbers recorded in the history
                every `callback_every` steps (held-out error, ...).
            distributed: True (or a process group) to split each batch over the processes
                of torch.distributed and all-reduce the gradients.

        Returns:
            One dict per optimizer step, `{"step", "loss"}` plus what `callback` returned;
            also appended to `history`.

        Raises:
            PipelineError: `check` on the first rows fails (before any training step).

        Example:
            >>> from adjoin import pipeline as pl
            >>> def line(p, x):
            ...     return x @ p["w"] + p["b"]
            >>> def gaussian(p, x, y):
            ...     r = y - line(p, x)
            ...     return -0.5 * r * r
            >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
            >>> y = 2.0 * x[:, 0] + 1.0
            >>> step = pl.Function(line, {"w": np.zeros(1), "b": 0.0},
            ...                    log_likelihood=gaussian, backend="python")
            >>> pipe = pl.Pipeline([("line", step)])
            >>> history = pipe.fit(x, y, steps=500, lr=0.1, progress=False)
            >>> len(history), sorted(history[0])
            (500, ['loss', 'step'])
            >>> np.round(pipe.produce(x), 2)
            array([1., 3., 5., 7.])
        """
        n = _len(y)
        group = process_group(distributed)
        world, rank = _world(group)
        self.check(x, y)
        order = batches(n, batch_size, seed)
        local = {s.name: batches(len(s.primitive.training_data[0][0]), batch_size, seed + 1 + i)
                 for i, s in enumerate(self.steps) if _trains_locally(s.primitive)}

        def objective(step: int) -> float:
            idx = next(order)
            mine = np.array_split(idx, world)[rank]
            loss = self._objective(_select(x, mine), _rows(y, mine), samples, len(idx)) \
                if len(mine) else 0.0
            if rank == 0:
                loss += self._local_terms(local, n)
            return loss

        first = self.history[-1]["step"] + 1 if self.history else 0
        record = minimise(objective, self.tensors(), steps=steps, lr=lr, optimizer=optimizer,
                          progress=progress, desc="pipeline fit",
                          callback=(lambda i: callback(self, i)) if callback else None,
                          callback_every=callback_every, group=group, first_step=first)
        self.history.extend(record)
        return record

    def _local_terms(self, local: Dict[str, Any], n: int) -> float:
        loss = 0.0
        for s in self.steps:
            prim = s.primitive
            if prim.frozen:
                continue
            if s.name in local:
                inputs, outputs = prim.training_data
                idx = next(local[s.name])
                ins = tuple(_convert(_rows(v, idx), prim) for v in inputs)
                out = None if outputs is None else _convert(_rows(outputs, idx), prim,
                                                             keep_int=True)
                loss += prim.local_term(ins, out, weight=len(inputs[0]) / n)
            prim.backprop_prior(-1.0 / n)
            loss -= prim.log_prior() / n
        return loss


# -- helpers --------------------------------------------------------------------------------


def _scores(prim: Primitive) -> bool:
    if getattr(prim, "score", True) is None:
        return False
    return type(prim).log_likelihood is not Primitive.log_likelihood


def _trains_locally(prim: Primitive) -> bool:
    return prim.has_local_objective and not prim.frozen


def _log_mean_exp(ll: np.ndarray) -> np.ndarray:
    if ll.ndim == 0:
        return ll
    top = ll.max(axis=0)
    return top + np.log(np.exp(ll - top).mean(axis=0))


def _untile(g: np.ndarray, times: int) -> np.ndarray:
    return g if times == 1 else g.reshape((times, -1) + g.shape[1:]).sum(axis=0)


def _select(x: Any, idx: np.ndarray) -> Any:
    return {k: _rows(v, idx) for k, v in x.items()} if isinstance(x, dict) else _rows(x, idx)


def _len(y: Any) -> int:
    return len(next(iter(y.values()))) if isinstance(y, dict) else len(y)


def _world(group: Any) -> Tuple[int, int]:
    if group is None:
        return 1, 0
    import torch.distributed as dist
    return dist.get_world_size(group), dist.get_rank(group)


def _shape_text(v: Any) -> str:
    return str(tuple(v.shape)) if hasattr(v, "shape") else type(v).__name__


def _check_input_shapes(step: _Step, ins: List[Any]) -> None:
    expected = getattr(step.primitive, "input_shape", None)
    if expected is None or len(ins) != 1 or not hasattr(ins[0], "shape"):
        return
    got = tuple(ins[0].shape[1:])
    if got != tuple(expected):
        raise PipelineError(f"step {step.name!r} ({type(step.primitive).__name__}) expects "
                            f"rows of shape {tuple(expected)}, but {step.sources[0]!r} gives "
                            f"rows of shape {got}")


def _step_failed(step: _Step, ins: List[Any], e: Exception) -> PipelineError:
    shapes = ", ".join(f"{src}: {_shape_text(v)}" for src, v in zip(step.sources, ins))
    return PipelineError(f"step {step.name!r} ({type(step.primitive).__name__}) failed on "
                         f"inputs ({shapes}): {type(e).__name__}: {e}")
