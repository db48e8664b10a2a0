"""lme4's formula grammar as a table of operators, parsed by precedence climbing into a small tree.

Precedences follow R: `~` binds loosest, then `|` and `||`, then `+ -`, `* /`, `:`, `^`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FormulaError
from .tokens import Token, tokenize


@dataclass(frozen=True)
class Operator:
    symbol: str
    precedence: int
    unary: bool = False
    right_associative: bool = False


OPERATORS: dict[str, Operator] = {
    op.symbol: op
    for op in (
        Operator("~", 10, unary=True),
        Operator("|", 20),
        Operator("||", 20),
        Operator("+", 30, unary=True),
        Operator("-", 30, unary=True),
        Operator("*", 40),
        Operator("/", 40),
        Operator(":", 50),
        Operator("^", 60, right_associative=True),
    )
}


@dataclass(frozen=True)
class Leaf:
    """A name, a number or a call such as `np.log(x)`, kept as written."""

    text: str
    position: int
    kind: str

    def unparse(self) -> str:
        return self.text


@dataclass(frozen=True)
class Group:
    """A parenthesised expression."""

    inner: "Node"
    position: int

    def unparse(self) -> str:
        return f"({self.inner.unparse()})"


@dataclass(frozen=True)
class Binary:
    op: str
    left: "Node"
    right: "Node"
    position: int

    def unparse(self) -> str:
        return f"{self.left.unparse()} {self.op} {self.right.unparse()}"


@dataclass(frozen=True)
class Unary:
    op: str
    operand: "Node"
    position: int

    def unparse(self) -> str:
        return f"{self.op}{self.operand.unparse()}"


Node = Leaf | Group | Binary | Unary


def start_of(node: Node) -> int:
    """Position of the first character of a node's text."""
    return start_of(node.left) if isinstance(node, Binary) else node.position


class _Parser:
    def __init__(self, formula: str):
        self.formula = formula
        self.tokens: list[Token] = tokenize(formula)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def fail(self, expected: str, token: Token | None = None) -> FormulaError:
        token = token or self.current
        found = "end of formula" if token.kind == "end" else repr(token.text)
        return FormulaError(f"expected {expected}, found {found}", self.formula, token.position)

    def parse_expression(self, min_precedence: int = 0) -> Node:
        left = self.parse_prefix()
        while self.current.kind == "op":
            op = OPERATORS[self.current.text]
            if op.precedence < min_precedence:
                break
            token = self.advance()
            next_min = op.precedence if op.right_associative else op.precedence + 1
            if self.current.kind in ("end", "rparen") or (
                self.current.kind == "op" and not OPERATORS[self.current.text].unary
            ):
                raise self.fail(f"a term after {op.symbol!r}")
            right = self.parse_expression(next_min)
            left = Binary(op.symbol, left, right, token.position)
        return left

    def parse_prefix(self) -> Node:
        token = self.current
        if token.kind in ("name", "number", "call"):
            self.advance()
            return Leaf(token.text, token.position, token.kind)
        if token.kind == "lparen":
            self.advance()
            if self.current.kind == "rparen":
                raise self.fail("a term inside '()'")
            inner = self.parse_expression()
            if self.current.kind != "rparen":
                raise self.fail("')' to close the '(' at position %d" % token.position)
            self.advance()
            return Group(inner, token.position)
        if token.kind == "op" and OPERATORS[token.text].unary:
            self.advance()
            operand = self.parse_expression(OPERATORS[token.text].precedence + 1)
            return Unary(token.text, operand, token.position)
        if token.kind == "rparen":
            raise FormulaError("unmatched ')'", self.formula, token.position)
        raise self.fail("a term")


def parse(formula: str) -> Node:
    """Parse formula text into a tree; errors name the position and what was expected."""
    if not isinstance(formula, str) or not formula.strip():
        raise FormulaError("the formula is empty; write it as 'response ~ terms', e.g. 'y ~ x + (1 | g)'")
    parser = _Parser(formula)
    tree = parser.parse_expression()
    if parser.current.kind != "end":
        raise parser.fail("an operator or the end of the formula")
    return tree
