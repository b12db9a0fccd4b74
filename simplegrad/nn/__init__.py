"""sg.nn: Module and the layers (linear, conv, pooling, normalisation, activations, losses)."""

from .activation import ELU, GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .containers import Sequential
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .linear import Embedding, Linear
from .loss import CELoss, MSELoss
from .module import Module
from .normalization import BatchNorm2d, LayerNorm, Norm
from .pooling import AvgPool2d, MaxPool2d

__all__ = [
    "Module", "Sequential",
    "Linear", "Embedding", "Flatten", "Dropout",
    "Conv2d", "MaxPool2d", "AvgPool2d",
    "Norm", "LayerNorm", "BatchNorm2d",
    "ReLU", "Tanh", "Sigmoid", "ELU", "GELU", "LeakyReLU", "Softmax",
    "CELoss", "MSELoss",
]
