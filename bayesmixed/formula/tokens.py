"""Tokenizer for lme4 formulas: names, numbers, operators, parentheses, and call arguments kept verbatim."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import FormulaError

# Longest operators first so that "||" is not read as two "|".
OPERATOR_SYMBOLS = ("||", "~", "|", "+", "-", "*", "/", ":", "^")

_NAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*")
_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass(frozen=True)
class Token:
    kind: str  # "name", "number", "op", "lparen", "rparen", "call", "end"
    text: str
    position: int


def _matching_paren(formula: str, open_at: int) -> int:
    """Index of the ')' closing the '(' at open_at, skipping quoted strings."""
    depth = 0
    i = open_at
    quote = None
    while i < len(formula):
        ch = formula[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise FormulaError("unclosed parenthesis: expected ')'", formula, open_at)


def r_power_to_python(code: str) -> str:
    """`^` means power in R code but XOR in Python: write it `**` (outside quoted strings)."""
    out, quote = [], None
    for ch in code:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "^":
            out.append("**")
            continue
        out.append(ch)
    return "".join(out)


def tokenize(formula: str) -> list[Token]:
    """Split a formula into tokens; a function call `f(...)` becomes one 'call' token with its text verbatim."""
    tokens: list[Token] = []
    i = 0
    while i < len(formula):
        ch = formula[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "`":
            end = formula.find("`", i + 1)
            if end < 0:
                raise FormulaError("unclosed backquote: expected '`'", formula, i)
            tokens.append(Token("name", formula[i : end + 1], i))
            i = end + 1
            continue
        name = _NAME.match(formula, i)
        if name and not (ch == "." and formula[i + 1 : i + 2].isdigit()):
            end = name.end()
            after = end
            while after < len(formula) and formula[after] == " ":
                after += 1
            if after < len(formula) and formula[after] == "(":
                close = _matching_paren(formula, after)
                tokens.append(Token("call", r_power_to_python(formula[i : close + 1]), i))
                i = close + 1
            else:
                tokens.append(Token("name", name.group(), i))
                i = end
            continue
        number = _NUMBER.match(formula, i)
        if number:
            tokens.append(Token("number", number.group(), i))
            i = number.end()
            continue
        if ch == "(":
            tokens.append(Token("lparen", ch, i))
            i += 1
            continue
        if ch == ")":
            tokens.append(Token("rparen", ch, i))
            i += 1
            continue
        for symbol in OPERATOR_SYMBOLS:
            if formula.startswith(symbol, i):
                tokens.append(Token("op", symbol, i))
                i += len(symbol)
                break
        else:
            raise FormulaError(f"unexpected character {ch!r}", formula, i)
    tokens.append(Token("end", "", len(formula)))
    return tokens
