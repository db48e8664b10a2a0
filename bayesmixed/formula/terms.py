"""From a parsed formula to its parts: response, fixed-effects text, offsets and random terms.

`(x || g)` expands to `(1 | g) + (0 + x | g)` and `(1 | a/b)` to `(1 | a) + (1 | b:a)`, as lme4's
expandDoubleVerts and expandSlash do.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from formulaic import Formula

from ..errors import FormulaError
from .grammar import Binary, Group, Leaf, Node, Unary, parse, start_of

OFFSET_CALL = "offset"
CBIND_CALL = "cbind"


@dataclass(frozen=True)
class RandomTermSpec:
    """One `(lhs | group)` after expansion; `group_factors` are the columns whose interaction groups,
    `group` its name as lme4 writes it (`b:a` for a/b, `c:(b:a)` for a/b/c)."""

    lhs: str
    group_factors: tuple[str, ...]
    group: str
    correlated: bool
    position: int

    def __str__(self) -> str:
        bar = "|" if self.correlated else "||"
        return f"({self.lhs} {bar} {self.group})"


@dataclass(frozen=True)
class ParsedFormula:
    """The parts of `response ~ fixed + offset(...) + (lhs | group) ...`, in formula order."""

    text: str
    response: str
    response_position: int
    fixed: str
    offsets: tuple[str, ...]
    random: tuple[RandomTermSpec, ...]

    @property
    def response_is_cbind(self) -> bool:
        return _call_name(self.response) == CBIND_CALL

    def variables(self) -> dict[str, int]:
        """Every data name the formula uses, with the position of its first use."""
        found: dict[str, int] = {}
        for text, position in self._expressions():
            for name in expression_names(text, self.text, position):
                exact = self.text.find(name, position)
                found.setdefault(name, exact if exact >= 0 else position)
        return found

    def _expressions(self) -> list[tuple[str, int]]:
        start = self.text.find("~") + 1
        pieces = [(self.response, self.response_position)]
        pieces += [(self.fixed, start)]
        pieces += [(o, start) for o in self.offsets]
        for term in self.random:
            pieces.append((term.lhs, term.position))
            pieces += [(g, term.position) for g in term.group_factors]
        return pieces


def _call_name(text: str) -> str:
    return text.split("(", 1)[0].strip() if text.endswith(")") and "(" in text else ""


def call_arguments(call_text: str, formula: str, position: int) -> list[str]:
    """The top-level comma-separated arguments of `f(a, b)` as text."""
    inner = call_text[call_text.index("(") + 1 : -1]
    args, depth, current = [], 0, ""
    for ch in inner:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        args.append(current.strip())
    if not args:
        raise FormulaError(f"{_call_name(call_text)}() needs an argument", formula, position)
    return args


# Names that formulas may use that are functions or modules, not data columns.
KNOWN_FUNCTIONS = frozenset(
    "np numpy log log2 log10 log1p exp sqrt abs sin cos tan I C Q scale center standardize poly bs "
    "lag offset cbind factor True False None pi".split()
)


def expression_names(text: str, formula: str, position: int) -> list[str]:
    """Data names in an expression: bare names, backquoted names, names inside calls (not functions)."""
    names: list[str] = []
    try:
        tree = parse(text) if text.strip() else None
    except FormulaError:
        tree = None
    if tree is None:
        return names
    for leaf in _leaves(tree):
        if leaf.kind == "name":
            names.append(leaf.text.strip("`"))
        elif leaf.kind == "call":
            names.extend(_python_names(leaf.text, formula, leaf.position + position))
    return [n for n in names if n not in KNOWN_FUNCTIONS]


def _python_names(code: str, formula: str, position: int) -> list[str]:
    try:
        tree = ast.parse(code.replace("`", ""), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"cannot read the expression {code!r} ({exc.msg})", formula, position) from None
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    bases = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    quoted = [  # formulaic's Q('a column name') refers to that column
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Q"
        and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
    ]
    return quoted + [
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and id(node) not in called and id(node) not in bases
    ]


def _leaves(node: Node) -> list[Leaf]:
    if isinstance(node, Leaf):
        return [node]
    if isinstance(node, Group):
        return _leaves(node.inner)
    if isinstance(node, Unary):
        return _leaves(node.operand)
    return _leaves(node.left) + _leaves(node.right)


def _is_bar(node: Node) -> bool:
    return isinstance(node, Binary) and node.op in ("|", "||")


def _contains_bar(node: Node) -> Binary | None:
    if _is_bar(node):
        return node  # type: ignore[return-value]
    if isinstance(node, Group):
        return _contains_bar(node.inner)
    if isinstance(node, Unary):
        return _contains_bar(node.operand)
    if isinstance(node, Binary):
        return _contains_bar(node.left) or _contains_bar(node.right)
    return None


def sum_terms(node: Node, sign: str = "+") -> list[tuple[str, Node]]:
    """Flatten a top-level sum into (sign, term) pairs."""
    if isinstance(node, Binary) and node.op in ("+", "-"):
        right_sign = node.op if sign == "+" else ("-" if node.op == "+" else "+")
        return sum_terms(node.left, sign) + sum_terms(node.right, right_sign)
    if isinstance(node, Unary) and node.op in ("+", "-"):
        inner_sign = sign if node.op == "+" else ("-" if sign == "+" else "+")
        return sum_terms(node.operand, inner_sign)
    return [(sign, node)]


FACTOR_CALLS = ("factor", "as.factor")


def _is_column_name(text: str) -> bool:
    return text.isidentifier() or (len(text) > 2 and text.startswith("`") and text.endswith("`"))


def _grouping(node: Node, formula: str) -> list[tuple[tuple[str, ...], str]]:
    """(factors, name) of each grouping in a bar's right side: `g`, `a:b`, or nested `a/b` (-> a, b:a)."""
    if isinstance(node, Group):
        return _grouping(node.inner, formula)
    if isinstance(node, Leaf) and node.kind == "name":
        name = node.text.strip("`")
        return [((name,), name)]
    if isinstance(node, Leaf) and node.kind == "call" and _call_name(node.text) in FACTOR_CALLS:
        # a grouping variable is a factor already: (1 | factor(g)) groups by g, named as written (lme4's way)
        arguments = call_arguments(node.text, formula, node.position)
        if len(arguments) == 1 and _is_column_name(arguments[0]):
            return [((arguments[0].strip("`"),), node.text)]
    if isinstance(node, Binary) and node.op == ":":
        left, right = _grouping(node.left, formula), _grouping(node.right, formula)
        if len(left) == 1 and len(right) == 1:
            return [(left[0][0] + right[0][0], f"{left[0][1]}:{right[0][1]}")]
    if isinstance(node, Binary) and node.op == "/":
        outer = _grouping(node.left, formula)
        inner = _grouping(node.right, formula)
        if len(inner) == 1:
            (inner_factors, inner_name), (outer_factors, outer_name) = inner[0], outer[-1]
            enclosing = f"({outer_name})" if len(outer_factors) > 1 else outer_name
            return outer + [(inner_factors + outer_factors, f"{inner_name}:{enclosing}")]
    raise FormulaError(
        f"grouping factor {node.unparse()!r} must be a column name, an interaction a:b, or nesting a/b",
        formula,
        start_of(node),
    )


def _expand_bar(bar: Binary, formula: str) -> list[RandomTermSpec]:
    lhs_text = bar.left.unparse()
    for leaf in _leaves(bar.left):
        if leaf.kind == "call" and _call_name(leaf.text) == OFFSET_CALL:
            raise FormulaError("offset() cannot be used inside a random-effects term", formula, leaf.position)
    try:
        lhs_terms = [str(t) for t in Formula(lhs_text)]
    except Exception as exc:  # formulaic raises several parser error types
        raise FormulaError(f"cannot read the random-effects term {lhs_text!r} ({exc})", formula, bar.position) from None
    groups = _grouping(bar.right, formula)
    if not lhs_terms:
        raise FormulaError(
            f"random-effects term ({bar.unparse()}) has no columns (an empty left side)", formula, bar.position
        )
    if bar.op == "|":
        lhs_pieces = [lhs_text]
    else:
        lhs_pieces = ["1" if t == "1" else f"0 + {t}" for t in lhs_terms]
    return [
        RandomTermSpec(piece, factors, name, bar.op == "|", bar.position)
        for factors, name in groups
        for piece in lhs_pieces
    ]


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4 formula into response, fixed part, offsets and expanded random terms."""
    tree = parse(formula)
    if not (isinstance(tree, Binary) and tree.op == "~"):
        position = tree.position if isinstance(tree, Unary) else 0
        raise FormulaError("expected 'response ~ terms' (a response on the left of '~')", formula, position)
    if _contains_bar(tree.left):
        raise FormulaError("a random-effects term cannot be on the left of '~'", formula, tree.left.position)
    response = tree.left
    if isinstance(response, Group):
        response = response.inner
    fixed_pieces: list[str] = []
    offsets: list[str] = []
    random: list[RandomTermSpec] = []
    for sign, term in sum_terms(tree.right):
        bar = term.inner if isinstance(term, Group) and _is_bar(term.inner) else None
        if bar is not None:
            if sign == "-":
                raise FormulaError("a random-effects term cannot be subtracted", formula, term.position)
            random.extend(_expand_bar(bar, formula))
            continue
        nested = _contains_bar(term)
        if nested is not None:
            message = (
                "a random-effects term must be in parentheses, e.g. '(1 | g)'"
                if _is_bar(term)
                else "a random-effects term must be added to the formula, not combined with other terms"
            )
            raise FormulaError(message, formula, nested.position)
        if isinstance(term, Leaf) and term.kind == "call" and _call_name(term.text) == OFFSET_CALL:
            offsets.append(call_arguments(term.text, formula, term.position)[0])
            continue
        text = term.unparse()
        fixed_pieces.append(text if sign == "+" else f"- {text}")
    fixed = " + ".join(p for p in fixed_pieces if not p.startswith("-"))
    removals = " ".join(p for p in fixed_pieces if p.startswith("-"))
    fixed = (fixed or "1") + (f" {removals}" if removals else "")
    return ParsedFormula(formula, response.unparse(), start_of(response), fixed, tuple(offsets), tuple(random))
