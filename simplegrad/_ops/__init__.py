"""The functional ops, and their attachment to Tensor as operators and methods."""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import activations, arithmetic, combine, losses, math, normalization, reductions, shape
from . import conv as _conv_ops
from . import pad as _pad_ops
from . import pool as _pool_ops
from .activations import *  # noqa: F401,F403
from .arithmetic import *  # noqa: F401,F403
from .combine import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .math import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pad import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403

# One `+=` per module: a form type checkers evaluate, so they see every exported op.
__all__: list[str] = []
__all__ += arithmetic.__all__
__all__ += reductions.__all__
__all__ += shape.__all__
__all__ += math.__all__
__all__ += activations.__all__
__all__ += combine.__all__
__all__ += losses.__all__
__all__ += normalization.__all__
__all__ += _conv_ops.__all__
__all__ += _pad_ops.__all__
__all__ += _pool_ops.__all__


def _reflected(function):
    return lambda self, other: function(arithmetic.operand(other, self, function.__name__), self)


def _attach() -> None:
    """Operators and methods of Tensor; each functional op `f(x, ...)` is also `x.f(...)`."""
    T = Tensor
    T.__add__ = arithmetic.add
    T.__radd__ = _reflected(arithmetic.add)
    T.__sub__ = arithmetic.sub
    T.__rsub__ = _reflected(arithmetic.sub)
    T.__mul__ = arithmetic.mul
    T.__rmul__ = _reflected(arithmetic.mul)
    T.__truediv__ = arithmetic.div
    T.__rtruediv__ = _reflected(arithmetic.div)
    T.__pow__ = arithmetic.pow
    T.__rpow__ = _reflected(arithmetic.pow)
    T.__matmul__ = arithmetic.matmul
    T.__rmatmul__ = lambda self, other: arithmetic.matmul(other, self)
    T.__neg__ = arithmetic.neg
    T.__iadd__ = arithmetic.in_place(np.add, "iadd")
    T.__isub__ = arithmetic.in_place(np.subtract, "isub")
    T.__imul__ = arithmetic.in_place(np.multiply, "imul")
    T.__itruediv__ = arithmetic.in_place(np.divide, "itruediv")
    T.__ipow__ = arithmetic.in_place(np.power, "ipow")
    T.__lt__ = arithmetic.less
    T.__le__ = arithmetic.less_equal
    T.__gt__ = arithmetic.greater
    T.__ge__ = arithmetic.greater_equal
    T.__getitem__ = shape.getitem
    T.reshape = lambda self, *new_shape: shape.reshape(self, shape._shape_arg(new_shape))
    T.flatten = shape.flatten
    T.transpose = shape.transpose
    T.permute = shape.permute
    T.T = property(lambda self: shape.permute(self, *reversed(range(self.ndim))))
    T.sum = reductions.sum
    T.mean = reductions.mean
    for module in (math, activations):
        for name in module.__all__:
            setattr(T, name, getattr(module, name))
    # The rest, with the tensor as the first argument (not concat/stack: they take a sequence).
    for function in (arithmetic.add, arithmetic.sub, arithmetic.mul, arithmetic.div,
                     arithmetic.pow, arithmetic.neg, arithmetic.matmul, arithmetic.equal,
                     arithmetic.less, arithmetic.less_equal, arithmetic.greater,
                     arithmetic.greater_equal, losses.ce_loss, losses.mse_loss,
                     normalization.norm, _conv_ops.conv2d, _pad_ops.pad, _pool_ops.max_pool2d,
                     _pool_ops.avg_pool2d):
        setattr(T, function.__name__, function)
    T.where = lambda self, condition, other: math.where(condition, self, other)
    T.__abs__ = math.abs
    T.variance = reductions.variance
    T.max = reductions.max
    T.min = reductions.min
    T.trace = reductions.trace
    T.argmax = reductions.argmax
    T.argmin = reductions.argmin


_attach()
