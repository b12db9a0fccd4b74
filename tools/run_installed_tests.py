"""Runs the test suite from a temporary copy outside the source tree, against the installed simplegrad.

Usage: python tools/run_installed_tests.py PROJECT_DIR [pytest args...]

Copies tests/, examples/, tools/, README.md and pyproject.toml (some tests read them relative to tests/)
into a temporary directory, checks that `import simplegrad` there resolves to the installed package
(not the source tree), and runs pytest in it. Exits with pytest's status.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import tempfile

COPIED = ["tests", "examples", "tools", "README.md", "pyproject.toml"]
IGNORED = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".mypy_cache", "*.pyc")


def main(argv: list[str]) -> int:
    """Copies the tests out of `argv[0]` and runs pytest on the copy with the remaining arguments.

    Example:
        >>> main(["/path/to/simplegrad", "-q"])  # doctest: +SKIP
        0
    """
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    project = pathlib.Path(argv[0]).resolve()
    with tempfile.TemporaryDirectory(prefix="simplegrad-tests-") as tmp:
        root = pathlib.Path(tmp)
        for name in COPIED:
            source = project / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=IGNORED)
            elif source.exists():
                shutil.copy2(source, root / name)
        where = subprocess.run(
            [sys.executable, "-c", "import simplegrad; print(simplegrad.__file__)"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout.strip()
        print(f"run_installed_tests: simplegrad imported from {where}")
        if pathlib.Path(where).resolve().is_relative_to(project):
            print("run_installed_tests: that is the source tree, not an installed package", file=sys.stderr)
            return 1
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *argv[1:]]
        return subprocess.call(command, cwd=root)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
