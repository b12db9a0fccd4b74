"""simplegrad: a small deep-learning library with reverse-mode autograd over a C++ convolution core."""

import os as _os

# NumPy's BLAS threads and our OpenMP pool share the cores; spinning pools fight. Passive waiting,
# set before the OpenMP runtime starts, unless the user chose otherwise.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import _core  # noqa: E402
from ._autograd import Context, Function  # noqa: E402
from ._factories import *  # noqa: E402,F401,F403
from ._factories import __all__ as _factory_names  # noqa: E402
from ._memory import (  # noqa: E402
    empty_cache,
    get_num_threads,
    memory_stats,
    reset_peak_memory,
    set_num_threads,
)
from ._ops import *  # noqa: E402,F401,F403
from ._ops import __all__ as _op_names  # noqa: E402
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
from . import data, nn, optimizers, schedulers  # noqa: E402

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
] + list(_factory_names) + list(_op_names)

del _os
