"""The README's quick-start block runs verbatim and prints what it promises."""

import contextlib
import io
import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _quick_start() -> str:
    text = README.read_text(encoding="utf-8")
    after = text.split("Quick start:", 1)
    assert len(after) == 2, "README has no 'Quick start:' section"
    match = re.search(r"```python\n(.*?)```", after[1], re.DOTALL)
    assert match, "README's quick start has no python block"
    return match.group(1)


def test_quick_start_runs_and_prints_the_gradient():
    code = _quick_start()
    assert "import simplegrad as sg" in code and "backward()" in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})  # noqa: S102
    printed = out.getvalue().strip()
    # The block promises `[[3. 4.]]` in its comment: x.grad of mean(x @ w) is w transposed.
    promised = re.search(r"print\(x\.grad\)\s*#\s*(.*)", code)
    assert promised, "the quick start no longer prints x.grad with its expected value"
    assert printed == promised.group(1).strip()
    values = np.array([float(v) for v in re.findall(r"[-\d.]+", printed)])
    np.testing.assert_array_equal(values, [3.0, 4.0])
