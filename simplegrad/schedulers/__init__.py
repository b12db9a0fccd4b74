"""sg.sch: learning-rate schedulers (linear, exponential, step, cosine, on plateau)."""

from .base import Scheduler
from .plateau import ReduceLROnPlateauLR
from .schedules import CosineAnnealingLR, ExponentialLR, LinearLR, StepLR

__all__ = [
    "Scheduler",
    "LinearLR",
    "ExponentialLR",
    "StepLR",
    "CosineAnnealingLR",
    "ReduceLROnPlateauLR",
]
