"""sg.opt: optimizers (SGD, Adam, AdamW) over Modules, Tensors or param groups."""

from .adam import Adam, AdamW
from .base import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
