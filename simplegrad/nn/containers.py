"""Sequential: a chain of modules applied in order."""

from __future__ import annotations

from typing import Any, Union

from .module import Module

__all__ = ["Sequential"]


class Sequential(Module):
    """Applies its modules in order; the children live in the tuple `.modules`, named "0", "1", ...

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> list(model.parameters())
        ['0.weight', '0.bias', '2.weight', '2.bias']
        >>> model[0], len(model)
        (Linear(in_features=4, out_features=8, bias=True, dtype=float32), 3)
    """

    _unnamed_containers = ("modules",)

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for i, module in enumerate(modules):
            if isinstance(module, type):  # nn.ReLU for nn.ReLU(): its forward returned a layer
                raise TypeError(
                    f"Sequential: item {i} is the class {module.__name__}, not a layer; "
                    f"write {module.__name__}(...)"
                )
            if not isinstance(module, Module) and not callable(module):
                raise TypeError(f"Sequential: item {i} is a {type(module).__name__}, not a Module")
        self.modules = tuple(modules)

    def forward(self, x: Any) -> Any:
        """x -> modules[-1](... modules[0](x))."""
        for module in self.modules:
            x = module(x)
        return x

    def __getitem__(self, index: Union[int, slice]) -> Any:
        if isinstance(index, slice):
            return Sequential(*self.modules[index])
        try:
            return self.modules[index]
        except IndexError:
            raise IndexError(
                f"Sequential: index {index} is out of range for {len(self.modules)} modules"
            ) from None
        except TypeError:
            raise TypeError(
                f"Sequential: indices must be ints or slices, got {type(index).__name__}"
            ) from None

    def __len__(self) -> int:
        return len(self.modules)

    def __iter__(self):
        return iter(self.modules)
