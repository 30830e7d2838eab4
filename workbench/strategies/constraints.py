"""Parameter constraints such as ``"fast < slow"``: parsed once per strategy class, then evaluated on one
parameter set (scalars) or a whole sweep grid (arrays) with the same code.

The language is pandas ``eval``'s for such expressions: parameter names, numbers, ``True``/``False``,
arithmetic (``+ - * / // % **``), comparisons (chained too), ``and``/``or``/``not`` and their pandas
spellings ``&``/``|``/``~`` (which bind like ``and``/``or``/``not``, as in pandas), ``abs()`` and
parentheses. Evaluating it costs microseconds where ``DataFrame.eval`` costs milliseconds, which matters
because every ``Strategy(...)`` checks its constraints.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

import numpy as np

from workbench.strategies.params import ParameterError

_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_COMPARISONS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_HELPERS = {"_and": np.logical_and, "_or": np.logical_or, "_not": np.logical_not, "abs": np.abs}


@dataclass(frozen=True)
class Constraint:
    """One compiled constraint: ``text`` as written, the parameter ``names`` it reads, and its code."""

    text: str
    names: tuple[str, ...]
    _code: CodeType

    def __call__(self, values: Mapping[str, Any]) -> Any:
        """True where ``values`` (scalars, or equal-length arrays per parameter) satisfy the constraint."""
        return eval(self._code, {"__builtins__": {}, **_HELPERS}, {n: values[n] for n in self.names})


def compile_constraint(text: str, params: Mapping[str, Any], owner: str) -> Constraint:
    """Parse ``text`` into a `Constraint` over ``params``; ``ParameterError`` names what is wrong with it.

    Examples
    --------
    >>> c = compile_constraint("fast < slow", {"fast": int, "slow": int}, "SmaCross")
    >>> bool(c({"fast": 10, "slow": 50})), bool(c({"fast": 50, "slow": 10}))
    (True, False)
    """
    where = f"{owner}: constraint {text!r}"
    try:
        tree = ast.parse(_python_booleans(text), mode="eval")
    except (SyntaxError, tokenize.TokenError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else exc.args[0]
        raise ParameterError(f"{where} is not a valid expression ({reason})") from None
    names: dict[str, None] = {}
    for node in ast.walk(tree):
        _check_node(node, where)
        if isinstance(node, ast.Name) and node.id != "abs":
            if node.id not in params:
                raise ParameterError(
                    f"{where} uses {node.id!r}, which is not a parameter; parameters: {', '.join(params) or 'none'}"
                )
            names.setdefault(node.id, None)
    code = compile(ast.fix_missing_locations(_Vectorize().visit(tree)), f"<constraint {text}>", "eval")
    return Constraint(text, tuple(names), code)


def _python_booleans(text: str) -> str:
    """``&``, ``|`` and ``~`` spelled ``and``, ``or`` and ``not``, as pandas reads them (precedence included)."""
    spelled = {"&": "and", "|": "or", "~": "not"}
    tokens = [
        (tokenize.NAME, spelled[tok.string]) if tok.type == tokenize.OP and tok.string in spelled else tok[:2]
        for tok in tokenize.generate_tokens(io.StringIO(text.strip()).readline)
    ]
    return tokenize.untokenize(tokens)


def _check_node(node: ast.AST, where: str) -> None:
    allowed = (
        ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp,
        ast.Compare, ast.Name, ast.Load, *_ARITHMETIC, *_COMPARISONS,
    )  # fmt: skip
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float):  # bool is an int
            raise ParameterError(f"{where}: only numbers and True/False may appear as values, not {node.value!r}")
    elif isinstance(node, ast.Call):
        is_abs = isinstance(node.func, ast.Name) and node.func.id == "abs"
        if not (is_abs and len(node.args) == 1 and not node.keywords):
            raise ParameterError(f"{where}: the only function allowed is abs(x)")
    elif not isinstance(node, allowed):
        raise ParameterError(f"{where}: {type(node).__name__} is not allowed in a constraint")


class _Vectorize(ast.NodeTransformer):
    """Rewrites ``and``/``or``/``not`` and chained comparisons into numpy calls that work element-wise."""

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        helper = "_and" if isinstance(node.op, ast.And) else "_or"
        return _fold(helper, node.values)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return ast.Call(ast.Name("_not", ast.Load()), [node.operand], [])
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        operands = [node.left, *node.comparators]
        pairs = [ast.Compare(a, [op], [b]) for a, op, b in zip(operands, node.ops, operands[1:], strict=False)]
        return pairs[0] if len(pairs) == 1 else _fold("_and", pairs)


def _fold(helper: str, values: list[ast.expr]) -> ast.expr:
    out = values[0]
    for value in values[1:]:
        out = ast.Call(ast.Name(helper, ast.Load()), [out, value], [])
    return out
