"""MLflow's search filter grammar, for connectors that must apply a filter themselves, and the
quoting of a literal name into a filter.

A filter is clauses joined by ``AND``; a clause is an identifier (``name``, ``run_id``,
``tags.team``, ``tags.`my key```), an operator and a value: a string in ``'...'`` or
``"..."`` (no escapes: the value is what lies between the quotes), a number, or for ``IN``
and ``NOT IN`` a parenthesised list of strings; ``IS NULL`` and ``IS NOT NULL`` take none.
Keywords are case-insensitive. ``LIKE`` and ``ILIKE`` patterns use ``%`` for any run of
characters and ``_`` for one, as in SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

ATTRIBUTE = "attribute"
TAG = "tag"
PARAM = "param"
METRIC = "metric"
DATASET = "dataset"
_ENTITIES = {
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "run": ATTRIBUTE,
    "tag": TAG,
    "tags": TAG,
    "param": PARAM,
    "params": PARAM,
    "parameter": PARAM,
    "parameters": PARAM,
    "metric": METRIC,
    "metrics": METRIC,
    "dataset": DATASET,
    "datasets": DATASET,
}
COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})
"""The symbol operators; ``<>`` is read as ``!=``."""
NAME_OPERATORS = frozenset({"=", "!=", "LIKE", "ILIKE"})
"""The operators ``name_test`` applies to names."""
_KEYWORDS = frozenset({"AND", "LIKE", "ILIKE", "IN", "NOT", "IS", "NULL"})
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'[^']*'|"[^"]*")
    | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
    | (?P<symbol><>|!=|<=|>=|=|<|>|[(),])
    | (?P<word>`[^`]*`|[^\W\d]\w*(?:\.(?:`[^`]*`|"[^"]*"|'[^']*'|\w[\w.]*))?)
    )""",
    re.VERBOSE,
)

Value = str | int | float | tuple[str, ...] | None


class FilterSyntaxError(ValueError):
    """A filter that is not in MLflow's grammar; the message says where it stops making sense."""


@dataclass(frozen=True)
class Clause:
    """One comparison: ``entity`` is ``attribute``, ``tag``, ``param``, ``metric`` or
    ``dataset``; ``operator`` is upper-case (``LIKE``, ``NOT IN``, ``IS NULL``, ``!=``)."""

    entity: str
    key: str
    operator: str
    value: Value

    @property
    def is_name(self) -> bool:
        """True for a clause on the model's name (``name``, ``attribute.name``, any case)."""
        return self.entity == ATTRIBUTE and self.key.lower() == "name"


@dataclass(frozen=True)
class Filter:
    """A parsed filter: every clause must hold. No clauses: everything matches."""

    clauses: tuple[Clause, ...]


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


def parse_filter(text: str) -> Filter:
    """The clauses of ``text``; FilterSyntaxError when it is not in the grammar."""
    tokens = _tokens(text)
    if not tokens:
        return Filter(())
    parser = _Parser(text, tokens)
    clauses = [parser.clause()]
    while parser.take_keyword("AND"):
        clauses.append(parser.clause())
    parser.end()
    return Filter(tuple(clauses))


def name_test(filter_text: str | None) -> Callable[[str], bool] | None:
    """A test of names made of a filter's name clauses, for models a registry lists without
    filtering them; None when the filter has any other clause or does not parse, as such a
    filter cannot be applied to a name alone."""
    if not filter_text or not filter_text.strip():
        return lambda _name: True
    try:
        clauses = parse_filter(filter_text).clauses
    except FilterSyntaxError:
        return None
    tests = []
    for clause in clauses:
        if not clause.is_name or clause.operator not in NAME_OPERATORS:
            return None
        if not isinstance(clause.value, str):
            return None
        tests.append(string_test(clause.operator, clause.value))
    return lambda name: all(test(name) for test in tests)


def string_test(operator: str, value: str) -> Callable[[str], bool]:
    """Whether a string satisfies ``<string> <operator> value`` (=, !=, LIKE or ILIKE)."""
    if operator == "=":
        return lambda text: text == value
    if operator == "!=":
        return lambda text: text != value
    if operator not in ("LIKE", "ILIKE"):
        raise ValueError(f"{operator} does not compare strings")
    pattern = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char) for char in value
    )
    flags = re.IGNORECASE | re.DOTALL if operator == "ILIKE" else re.DOTALL
    compiled = re.compile(pattern, flags)
    return lambda text: compiled.fullmatch(text) is not None


def quoted(value: str) -> str | None:
    """``value`` as a string literal of the grammar; None when it holds both quote kinds,
    which no literal can (the grammar has no escapes)."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


def name_filter(name: str) -> str:
    """A filter matching ``name`` (and possibly a few other names).

    A name holding both quote kinds is matched with LIKE and ``_`` in place of the single
    quotes, so the caller keeps only rows whose name is exactly ``name``.
    """
    literal = quoted(name)
    if literal is not None:
        return f"name = {literal}"
    return "name LIKE '{}'".format(name.replace("'", "_"))


def _tokens(text: str) -> list[_Token]:
    tokens = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.lastgroup is None:
            rest = text[at:].lstrip()
            if not rest:
                break
            raise FilterSyntaxError(
                f"cannot read the filter from character {len(text) - len(rest) + 1}: {rest[:20]!r}"
            )
        kind = match.lastgroup
        token_text = match.group(kind)
        if kind == "word" and token_text.upper() in _KEYWORDS:
            kind, token_text = "keyword", token_text.upper()
        tokens.append(_Token(kind, token_text, match.start(match.lastgroup)))
        at = match.end()
    return tokens


class _Parser:
    """Reads clauses off the token list, front to back."""

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self._text = text
        self._tokens = tokens
        self._next = 0

    def clause(self) -> Clause:
        entity, key = self._identifier()
        token = self._take()
        if token.kind == "symbol" and token.text in COMPARISONS | {"<>"}:
            operator = "!=" if token.text == "<>" else token.text
            return Clause(entity, key, operator, self._scalar())
        if token.kind == "keyword" and token.text in ("LIKE", "ILIKE"):
            return Clause(entity, key, token.text, self._string())
        if token.kind == "keyword" and token.text == "IN":
            return Clause(entity, key, "IN", self._list())
        if token.kind == "keyword" and token.text == "NOT":
            self._expect_keyword("IN")
            return Clause(entity, key, "NOT IN", self._list())
        if token.kind == "keyword" and token.text == "IS":
            negated = self.take_keyword("NOT")
            self._expect_keyword("NULL")
            return Clause(entity, key, "IS NOT NULL" if negated else "IS NULL", None)
        raise self._error(token, "an operator")

    def take_keyword(self, keyword: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "keyword" and token.text == keyword:
            self._next += 1
            return True
        return False

    def end(self) -> None:
        token = self._peek()
        if token is not None:
            raise self._error(token, "AND or the end of the filter")

    def _identifier(self) -> tuple[str, str]:
        token = self._take()
        if token.kind != "word":
            raise self._error(token, "an identifier such as name or tags.<key>")
        head, dot, key = token.text.partition(".")
        if token.text.startswith("`") or not dot:
            return ATTRIBUTE, _unquoted(token.text, "`")
        entity = _ENTITIES.get(head)
        if entity is None:
            raise self._error(token, f"one of {', '.join(sorted(_ENTITIES))} before '.'")
        return entity, _unquoted(_unquoted(_unquoted(key, "'"), '"'), "`")

    def _scalar(self) -> str | int | float:
        token = self._take()
        if token.kind == "string":
            return token.text[1:-1]
        if token.kind == "number":
            try:
                return int(token.text)
            except ValueError:
                return float(token.text)
        raise self._error(token, "a quoted string or a number")

    def _string(self) -> str:
        token = self._take()
        if token.kind != "string":
            raise self._error(token, "a quoted string")
        return token.text[1:-1]

    def _list(self) -> tuple[str, ...]:
        self._expect_symbol("(")
        values = [self._string()]
        while self._peek_symbol(","):
            self._next += 1
            values.append(self._string())
        self._expect_symbol(")")
        return tuple(values)

    def _expect_keyword(self, keyword: str) -> None:
        if not self.take_keyword(keyword):
            raise self._error(self._peek(), keyword)

    def _expect_symbol(self, symbol: str) -> None:
        if not self._peek_symbol(symbol):
            raise self._error(self._peek(), f"'{symbol}'")
        self._next += 1

    def _peek_symbol(self, symbol: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == "symbol" and token.text == symbol

    def _peek(self) -> _Token | None:
        return self._tokens[self._next] if self._next < len(self._tokens) else None

    def _take(self) -> _Token:
        token = self._peek()
        if token is None:
            raise FilterSyntaxError(f"the filter {self._text!r} ends too early")
        self._next += 1
        return token

    def _error(self, token: _Token | None, wanted: str) -> FilterSyntaxError:
        if token is None:
            return FilterSyntaxError(f"the filter {self._text!r} ends where {wanted} should be")
        return FilterSyntaxError(
            f"expected {wanted} at character {token.at + 1} of the filter, not {token.text!r}"
        )


def _unquoted(text: str, quote: str) -> str:
    if len(text) >= 2 and text.startswith(quote) and text.endswith(quote):
        return text[1:-1]
    return text
