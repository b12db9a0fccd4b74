"""Reverse-mode autograd: Context, Function (built-in and user ops alike) and the backward pass."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _memory, _settings


class Context:
    """What a Function's forward leaves for its backward.

    Attributes:
        saved_tensors: arrays stored with `save_for_backward`.
        needs_input_grad: one bool per positional input (True when it wants a gradient).
    Any other attribute may be set freely (`ctx.stride = 2`).
    """

    def __init__(self) -> None:
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple = ()

    def save_for_backward(self, *arrays: Any) -> None:
        """Keeps `arrays` for the backward pass (released after it unless retain_graph=True)."""
        self.saved_tensors = arrays


class Node:
    """A recorded op application: the Function class, its context and its inputs."""

    __slots__ = ("function", "ctx", "inputs", "released")

    def __init__(self, function: type, ctx: Context, inputs: tuple) -> None:
        self.function = function
        self.ctx = ctx
        self.inputs = inputs
        self.released = False

    def release(self) -> None:
        self.ctx.__dict__.clear()
        self.released = True


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
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, oper: Optional[str] = None, **kwargs: Any):
        from ._tensor import Tensor

        raw = []
        needs = []
        any_grad = False
        record = _settings.get_comp_grad()
        for item in inputs:
            if isinstance(item, Tensor):
                raw.append(item._values)
                wants = record and item.comp_grad
                needs.append(wants)
                any_grad = any_grad or wants
            else:
                raw.append(item)
                needs.append(False)
        ctx = Context()
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *raw, **kwargs)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
            if out.dtype == np.float64 and any(
                isinstance(r, np.ndarray) and r.dtype == np.float32 for r in raw
            ):
                out = out.astype(np.float32)
        out = _memory.to_core(out)
        result = Tensor._wrap(out, any_grad)
        if any_grad:
            result._node = Node(cls, ctx, inputs)
            result.oper = oper or cls.__name__
        return result


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sums `grad` down to `shape`, undoing NumPy broadcasting (the one place this happens)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        return np.broadcast_to(grad, shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    out = _memory.empty(shape, grad.dtype)
    np.sum(grad, axis=axes, keepdims=True, out=out.reshape((1,) * extra + tuple(shape)))
    return out


def _topological_order(root) -> list:
    """Tensors reachable from `root`, each after every tensor it depends on (iterative DFS)."""
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        node = tensor._node
        if node is not None:
            for parent in node.inputs:
                if isinstance(parent, _tensor_type()) and parent.comp_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


_TENSOR = []


def _tensor_type():
    if not _TENSOR:
        from ._tensor import Tensor

        _TENSOR.append(Tensor)
    return _TENSOR[0]


def _as_gradient(grad: Any, like: np.ndarray, op: str) -> np.ndarray:
    if type(grad) is np.ndarray and grad.dtype.kind == "f":
        return grad
    Tensor = _tensor_type()
    if isinstance(grad, Tensor):
        grad = grad._values
    grad = np.asarray(grad)
    if grad.dtype.kind not in "fiu" and grad.dtype != np.bool_:
        raise TypeError(f"{op}: gradient must be numeric, got dtype {grad.dtype}")
    return grad


def backward(root, grad: Any = None, retain_graph: bool = False) -> None:
    """Runs reverse-mode differentiation from `root`, accumulating into the leaves' `.grad`."""
    if not root.comp_grad:
        raise RuntimeError("backward: this tensor does not require gradients (comp_grad=False)")
    values = root._values
    if grad is None:
        seed = _memory.empty(values.shape, values.dtype)
        seed.fill(1)
    else:
        given = _as_gradient(grad, values, "backward")
        try:
            broadcast = np.broadcast_to(given, values.shape)
        except ValueError:
            raise ValueError(
                f"backward: grad of shape {given.shape} does not match the output shape {values.shape}"
            ) from None
        seed = _memory.empty(values.shape, values.dtype)
        np.copyto(seed, broadcast, casting="unsafe")
    grads = {id(root): seed}
    Tensor = _tensor_type()
    for tensor in reversed(_topological_order(root)):
        g = grads.pop(id(tensor), None)
        if g is None:
            continue
        node = tensor._node
        if node is None:
            tensor._accumulate_grad(g)
            continue
        if node.released:
            raise RuntimeError(
                f"backward: the graph through '{tensor.oper}' was already freed by an earlier "
                "backward; pass retain_graph=True to backward twice"
            )
        input_grads = node.function.backward(node.ctx, g)
        if not isinstance(input_grads, (tuple, list)):
            input_grads = (input_grads,)
        if len(input_grads) < len(node.inputs):
            tensor_count = sum(isinstance(i, Tensor) for i in node.inputs)
            if len(input_grads) != tensor_count:
                raise RuntimeError(
                    f"{node.function.__name__}.backward returned {len(input_grads)} gradients "
                    f"for {len(node.inputs)} inputs"
                )
            it = iter(input_grads)
            input_grads = [next(it) if isinstance(i, Tensor) else None for i in node.inputs]
        for parent, parent_grad in zip(node.inputs, input_grads):
            if parent_grad is None or not isinstance(parent, Tensor) or not parent.comp_grad:
                continue
            parent_grad = _as_gradient(parent_grad, parent._values, node.function.__name__)
            parent_grad = unbroadcast(parent_grad, parent._values.shape)
            if parent_grad.dtype != parent._values.dtype:
                parent_grad = parent_grad.astype(parent._values.dtype)
            previous = grads.get(id(parent))
            if previous is None:
                grads[id(parent)] = parent_grad
            else:
                total = _memory.empty(previous.shape, previous.dtype)
                np.add(previous, parent_grad, out=total)
                grads[id(parent)] = total
        if not retain_graph:
            node.release()
