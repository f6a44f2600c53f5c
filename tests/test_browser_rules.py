"""Rules for the browser tests themselves, checked by reading them (no browser needed).

The app's CSP has no 'unsafe-eval'. Playwright polls ``wait_for_function`` with an expression
string by evaluating it again in the page, which that CSP refuses whenever the first check is
not already true: the test then fails or passes by timing (it failed CI once). A function
(``"() => …"``) is compiled once by the debugger protocol and polled without eval."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).parent
FUNCTION = re.compile(r"^\s*(async\s+)?(\(?[\w\s,{}\[\]]*\)?\s*=>|function\b)")


def polled_expressions() -> list[str]:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "wait_for_function" or not node.args:
                continue
            arg = node.args[0]
            text = arg.value if isinstance(arg, ast.Constant) else None
            if isinstance(text, str) and not FUNCTION.match(text):
                found.append(f"{path.relative_to(TESTS)}:{node.lineno}: {text[:60]}")
    return found


def test_no_browser_test_polls_an_expression_string():
    assert polled_expressions() == []


def test_the_rule_sees_an_expression():
    assert not FUNCTION.match("document.querySelector('img')?.naturalWidth > 0")
    assert FUNCTION.match("() => document.title")
    assert FUNCTION.match("r => r === 1")
    assert FUNCTION.match("async (x) => x")
