"""Reverse-mode autograd: Context, Function (built-in and user ops alike) and the backward pass."""

from __future__ import annotations

import os
import sys
import threading
import weakref
from typing import Any, Optional, Sequence

import numpy as np

from . import _core, _memory, _settings
from ._sums import add_reduce


# Leaf gradients are summed under one lock: threads running backward into shared parameters would
# otherwise lose updates (NumPy's in-place add runs without the GIL). A forked child gets new locks.
_leaf_lock = threading.Lock()
_node_lock = threading.Lock()  # claims of nodes (Node.released) by backward passes


def _new_locks() -> None:
    global _leaf_lock, _node_lock
    _leaf_lock = threading.Lock()
    _node_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_locks)


class Context:
    """What a Function's forward leaves for its backward.

    Attributes:
        saved_tensors: arrays stored with `save_for_backward`.
        needs_input_grad: one bool per positional input (True when it wants a gradient).
    Any other attribute may be set freely (`ctx.stride = 2`).
    """

    # (buffer, its version at save time, array) for each saved array in a core buffer.
    _versions: Sequence = ()

    def __init__(self) -> None:
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple = ()

    def save_for_backward(self, *arrays: Any) -> None:
        """Keeps `arrays` for the backward pass (released after it unless retain_graph=True).

        Backward raises RuntimeError if one of them is written in place through the library in
        between (an optimizer step, a `Tensor.values` assignment, `load_state_dict`), as PyTorch
        does: the gradient would silently use the new values. Writes into a `.values` view by
        NumPy itself are not seen.
        """
        self.saved_tensors = arrays
        versions = []
        for array in arrays:
            if type(array) is not np.ndarray:
                continue
            base = array.base  # _memory.buffer_of's common cases inline: 0.25 us less per op
            if type(base) is np.ndarray:
                base = base.base
            if type(base) is not _core.Buffer:
                if base is None:
                    continue
                base = _memory.buffer_of(array)
                if base is None:
                    continue
            versions.append((base, base.version, array))
        self._versions = versions


class Node:
    """A recorded op application: the Function class, its context, and where gradients go.

    The graph links nodes, not intermediate tensors: `parents[i]` is the leaf Tensor or the Node
    that produced positional input i (None where no gradient flows), so an intermediate tensor's
    values are freed as soon as nothing but the graph refers to it (as in PyTorch).
    """

    __slots__ = ("function", "ctx", "parents", "tensor_refs", "positions", "input_shapes",
                 "shape", "dtype", "released", "__weakref__")

    def __init__(self, function: type, ctx: Context, inputs: tuple, positions: tuple,
                 parents: tuple, output: np.ndarray) -> None:
        self.function = function
        self.ctx = ctx
        self.parents = parents
        # The positions of the Tensor inputs, weak references to them (for Tensor.prev) and their
        # shapes (a leaf's .values may be given another shape before backward).
        self.positions = positions
        self.tensor_refs = tuple([weakref.ref(inputs[i]) for i in positions])
        self.input_shapes = tuple([inputs[i]._values.shape for i in positions])
        self.shape = output.shape
        self.dtype = output.dtype
        self.released = False


class Function:
    """Base of every differentiable op. Subclass it with two static methods:

    - `forward(ctx, *inputs)`: receives NumPy arrays where Tensors were passed (other arguments as
      given) and returns one NumPy array.
    - `backward(ctx, grad_output)`: receives the gradient w.r.t. the output (same shape) and returns
      one gradient per positional input (None for inputs without one). Gradients of broadcast
      inputs may keep the broadcast shape: they are reduced in one shared place.

    Example:
        >>> class Square(sg.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x * x
        ...     @staticmethod
        ...     def backward(ctx, g):
        ...         (x,) = ctx.saved_tensors
        ...         return 2 * x * g
        >>> y = Square.apply(sg.Tensor([3.0]))   # y.values == [9.]
    """

    @staticmethod
    def forward(ctx: Context, *inputs: Any) -> np.ndarray:
        raise NotImplementedError("Function.forward: a Function subclass defines forward(ctx, ...)")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> Any:
        raise NotImplementedError(
            "Function.backward: a Function subclass defines backward(ctx, grad_output)"
        )

    @classmethod
    def apply(cls, *inputs: Any, oper: Optional[str] = None, **kwargs: Any):
        raw = []
        needs = []
        parents = []
        positions = []
        any_grad = False
        record = _settings.get_comp_grad()
        for position, item in enumerate(inputs):
            if isinstance(item, Tensor):
                positions.append(position)
                raw.append(item._values)
                wants = record and item.comp_grad
                needs.append(wants)
                parents.append((item if item._node is None else item._node) if wants else None)
                any_grad = any_grad or wants
            else:
                raw.append(item)
                needs.append(False)
                parents.append(None)
        if kwargs and any(isinstance(v, Tensor) for v in kwargs.values()):
            kwargs = _keyword_arrays(cls, kwargs, record)
        ctx = Context()
        ctx.needs_input_grad = tuple(needs)
        try:
            out = cls.forward(ctx, *raw, **kwargs)
        except MemoryError as error:
            name = oper if oper and oper.isidentifier() else cls.__name__.lower()  # "*": Mul, "mul"
            raise _memory.named_by(error, name) from None
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
            if out.dtype == np.float64 and any(
                isinstance(r, np.ndarray) and r.dtype == np.float32 for r in raw
            ):
                out = out.astype(np.float32)
        try:
            out = _memory.to_core(out)
        except ValueError:  # checked only now, off the hot path: a dtype the core cannot hold
            if out.dtype.name in _settings.DTYPES or out.dtype == np.bool_:
                raise
            raise TypeError(
                f"{cls.__name__}.forward returned {out.dtype} values (expected one of "
                f"{', '.join(_settings.DTYPES)} or bool)"
            ) from None
        any_grad = any_grad and out.dtype.kind == "f"  # int/bool outputs carry no gradient
        result = Tensor._wrap(out, any_grad)
        if any_grad:
            result._node = Node(cls, ctx, inputs, tuple(positions), tuple(parents), out)
            result.oper = oper or cls.__name__
        return result


def _keyword_arrays(cls: type, kwargs: dict, record: bool) -> dict:
    """A Function's keyword settings with Tensors given as their arrays, as positional inputs
    are (so that save_for_backward tracks them); a keyword Tensor that takes gradients is
    refused: keywords get none."""
    for name, value in kwargs.items():
        if record and isinstance(value, Tensor) and value.comp_grad:
            raise TypeError(
                f"{cls.__name__}.apply: the Tensor {name}= takes gradients but is given by "
                "keyword; pass it positionally (keywords are settings: they get no gradient)"
            )
    return {k: (v._values if isinstance(v, Tensor) else v) for k, v in kwargs.items()}


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sums `grad` down to `shape`, undoing NumPy broadcasting (the one place this happens).
    ValueError when `shape` does not broadcast to grad's shape: a gradient smaller than its input
    (say (3,) for (2, 3)) is refused, as PyTorch does, rather than spread over the input."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise ValueError("the gradient has fewer dims than the input")
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    out = _memory.empty(shape, grad.dtype)
    add_reduce(grad, axes, True, out.reshape((1,) * extra + tuple(shape)))
    return out


def graph_order(root) -> list:
    """The graph items (Nodes and leaf Tensors) reachable from tensor `root`, each after every item
    it depends on (iterative depth-first search: no recursion limit)."""
    start = root._node if root._node is not None else root
    order = []
    visited = set()
    stack = [(start, False)]
    while stack:
        item, expanded = stack.pop()
        if expanded:
            order.append(item)
            continue
        if id(item) in visited:
            continue
        visited.add(id(item))
        stack.append((item, True))
        if type(item) is Node:
            for parent in item.parents:
                if parent is not None and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def _check_saved(order: list) -> None:
    """Raises if an array some op saved for its gradient was written in place since its forward,
    or if a leaf that gets a gradient no longer holds floats (`convert_to("int64")` after the
    forward: its gradient would be cut to integers). Checked before any gradient is computed, so
    a refused backward changes nothing."""
    for item in order:
        if type(item) is not Node:
            if item._values.dtype.kind != "f":
                raise RuntimeError(
                    f"backward: a leaf tensor of shape {item.shape} is {item.dtype} now (converted "
                    "after the forward); only float tensors can hold gradients"
                )
        else:
            for buffer, version, array in item.ctx._versions:
                if buffer.version != version:
                    raise RuntimeError(
                        f"backward: an array of shape {array.shape} that "
                        f"'{item.function.__name__}' saved for its gradient was changed in place "
                        f"after the forward (version {version}, now {buffer.version}: an "
                        "optimizer step, a Tensor.values assignment or load_state_dict); call "
                        "backward before changing the tensors, or run the forward again"
                    )


def _as_gradient(grad: Any, op: str) -> np.ndarray:
    if type(grad) is np.ndarray and grad.dtype.kind == "f":
        return grad
    grad = as_array(grad, op)
    if grad.dtype.kind not in "fiu" and grad.dtype != np.bool_:
        raise TypeError(f"{op}: gradient must be numeric, got dtype {grad.dtype}")
    return grad


def _is_unshared(g: np.ndarray, like: np.ndarray) -> bool:
    """Whether `g` can become a leaf's .grad as is: writeable, C-contiguous, the leaf's shape and
    dtype, the sole view of its own core buffer, and referred to only by the backward loop's `g`
    (CPython reference counts: that local, plus the argument here and getrefcount's own)."""
    base = g.base
    return (
        type(base) is _core.Buffer
        and g.flags.writeable
        and g.flags.c_contiguous
        and g.shape == like.shape
        and g.dtype == like.dtype
        and sys.getrefcount(g) <= 3
        and sys.getrefcount(base) <= 3
    )


def _send_to_parents(node: Node, input_grads: Any, grads: dict) -> None:
    """Adds what `node`'s backward returned into `grads` (by parent id), each gradient checked,
    summed to its parent's shape and cast to its dtype."""
    if not isinstance(input_grads, (tuple, list)):
        input_grads = (input_grads,)
    parents = node.parents
    if len(input_grads) != len(parents):
        # A backward may return one gradient per Tensor input only.
        if len(input_grads) != len(node.tensor_refs):
            raise RuntimeError(
                f"{node.function.__name__}.backward returned {len(input_grads)} gradients "
                f"for {len(parents)} inputs"
            )
        spread = [None] * len(parents)
        for position, input_grad in zip(node.positions, input_grads):
            spread[position] = input_grad
        input_grads = spread
    for position, (parent, parent_grad) in enumerate(zip(parents, input_grads)):
        if parent is None or parent_grad is None:
            continue
        parent_grad = _as_gradient(parent_grad, node.function.__name__)
        if type(parent) is Node:
            shape, dtype = parent.shape, parent.dtype
        else:
            shape, dtype = parent._values.shape, parent._values.dtype
            then = node.input_shapes[node.positions.index(position)]
            if shape != then:  # else its gradient would be summed into the new shape, or refused
                name = f"'{parent.label}' " if parent.label else ""
                raise RuntimeError(
                    f"backward: tensor {name}of shape {then} in the graph through "
                    f"'{node.function.__name__}' was given values of shape {shape} since "
                    "(Tensor.values = ...); run the forward again"
                )
        try:
            parent_grad = unbroadcast(parent_grad, shape)
        except ValueError:  # neither shape is the other one broadcast
            raise RuntimeError(
                f"{node.function.__name__}.backward returned a gradient of shape "
                f"{parent_grad.shape} for an input of shape {shape}"
            ) from None
        if parent_grad.dtype != dtype:
            parent_grad = parent_grad.astype(dtype)
        previous = grads.get(id(parent))
        if previous is None:
            grads[id(parent)] = parent_grad
        else:
            total = _memory.empty(previous.shape, previous.dtype)
            np.add(previous, parent_grad, out=total)
            grads[id(parent)] = total


def backward(root, grad: Any = None, retain_graph: bool = False) -> None:
    """Runs reverse-mode differentiation from `root`, accumulating into the leaves' `.grad`."""
    if not root.comp_grad:
        raise RuntimeError("backward: this tensor does not require gradients (comp_grad=False)")
    values = root._values
    given = None if grad is None else _as_gradient(grad, "backward")
    if (
        given is not None
        and root._node is not None
        and given.shape == values.shape
        and given.dtype == values.dtype
        and given.flags.c_contiguous
        and _memory.buffer_of(given) is not None
    ):
        # Used as is (no copy the size of the output): a read-only view, so no backward can
        # change the caller's array; leaves copy their gradient into .grad anyway.
        seed = given.view()
        seed.flags.writeable = False
    else:
        seed = _memory.empty(values.shape, values.dtype)
    if given is None:
        seed.fill(1)
    elif seed.flags.writeable:
        try:
            np.copyto(seed, np.broadcast_to(given, values.shape), casting="unsafe")
        except ValueError:
            raise ValueError(
                f"backward: grad of shape {given.shape} does not match the output shape {values.shape}"
            ) from None
    order = graph_order(root)
    _check_saved(order)
    grads = {id(order[-1]): seed}
    for item in reversed(order):
        g = grads.pop(id(item), None)
        if g is None:
            continue
        if type(item) is not Node:
            with _leaf_lock:
                if item._grad is None and _is_unshared(g, item._values):
                    item._grad = g  # a fresh array nothing else refers to: adopted, not copied
                else:
                    item._accumulate_grad(g)
            continue
        node = item
        with _node_lock:  # two threads' backward through one graph: the second one is refused
            if node.released:
                raise RuntimeError(
                    f"backward: the graph through '{node.function.__name__}' was already freed "
                    "by an earlier backward; pass retain_graph=True to backward twice"
                )
            node.released = not retain_graph  # claimed before its context is read
        try:
            _send_to_parents(node, node.function.backward(node.ctx, g), grads)
        except BaseException as error:
            node.released = False  # a failed backward leaves the graph usable, as before it
            if isinstance(error, MemoryError):
                raise _memory.named_by(error, f"{node.function.__name__}.backward") from None
            raise
        if not retain_graph:
            node.ctx.__dict__.clear()


# Last, after every name _tensor uses from this module: _tensor imports this module at its top.
from ._tensor import Tensor, as_array  # noqa: E402
