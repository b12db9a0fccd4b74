"""simplegrad: a small deep-learning library with reverse-mode autograd over a C++ convolution core."""

import os as _os
from typing import TYPE_CHECKING as _TYPE_CHECKING

# NumPy's BLAS threads and our OpenMP pool share the cores; spinning pools fight. Passive waiting,
# set before the OpenMP runtime starts, unless the user chose otherwise.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import _core  # noqa: E402
from ._autograd import Context, Function  # noqa: E402
from ._factories import *  # noqa: E402,F401,F403
from ._memory import (  # noqa: E402
    empty_cache,
    get_num_threads,
    memory_stats,
    reset_peak_memory,
    set_num_threads,
)
from ._ops import *  # noqa: E402,F401,F403

if _TYPE_CHECKING:  # the same names, star-imported from the leaf modules type checkers can follow
    from ._ops.activations import *  # noqa: F401,F403
    from ._ops.arithmetic import *  # noqa: F401,F403
    from ._ops.combine import *  # noqa: F401,F403
    from ._ops.conv import *  # noqa: F401,F403
    from ._ops.losses import *  # noqa: F401,F403
    from ._ops.math import *  # noqa: F401,F403
    from ._ops.normalization import *  # noqa: F401,F403
    from ._ops.pad import *  # noqa: F401,F403
    from ._ops.pool import *  # noqa: F401,F403
    from ._ops.reductions import *  # noqa: F401,F403
    from ._ops.shape import *  # noqa: F401,F403
from ._settings import (  # noqa: E402
    DTYPES,
    available_devices,
    cuda_is_available,
    default_device,
    default_dtype,
    get_comp_grad,
    get_default_device,
    get_default_dtype,
    get_seed,
    no_grad,
    seed,
    validate_device,
)
from ._tensor import Tensor  # noqa: E402
from ._serialization import load, save  # noqa: E402
from . import _factories, _ops, data, nn, optimizers, schedulers  # noqa: E402

opt = optimizers
sch = schedulers

__version__ = _core.__version__

__all__ = [
    "Tensor", "Function", "Context", "no_grad", "get_comp_grad",
    "DTYPES", "default_dtype", "get_default_dtype",
    "available_devices", "cuda_is_available", "default_device", "get_default_device",
    "validate_device", "seed", "get_seed",
    "memory_stats", "reset_peak_memory", "empty_cache", "set_num_threads", "get_num_threads",
    "__version__", "nn", "opt", "sch", "data", "save", "load",
]
__all__ += _factories.__all__  # `+=` of module attributes: a form type checkers evaluate
__all__ += _ops.__all__

del _os
