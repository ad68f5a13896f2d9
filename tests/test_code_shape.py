"""The library's shape: modules under 450 lines, functions under 60, so that each reads in one sitting."""
from __future__ import annotations

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "milenas_lib"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 450, 60


def oversized(root: Path) -> list[str]:
    """``path: N lines`` for each module, ``path:function: N lines`` for each function over its limit."""
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found.append(f"{path.relative_to(root)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{path.relative_to(root)}:{node.name}: {length} lines")
    return found


def test_no_module_or_function_of_the_library_is_oversized():
    assert oversized(LIBRARY) == []


def test_the_check_finds_a_long_function_and_a_long_module(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "long_function.py").write_text(f"def long():\n{body}\n")
    (tmp_path / "long_module.py").write_text("\n".join(f"y{i} = {i}" for i in range(MAX_MODULE_LINES + 1)))
    assert oversized(tmp_path) == ["long_function.py:long: 61 lines", f"long_module.py: {MAX_MODULE_LINES + 1} lines"]
