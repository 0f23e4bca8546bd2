"""MLflow's filter grammar as ``connectors/filters.py`` reads it: table-driven parses and
refusals, and name matching checked against what a real MLflow server answers for the same
filter on the seeded registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wallaroo_registry_ui.server.connectors.filters import (
    ATTRIBUTE,
    METRIC,
    TAG,
    Clause,
    Filter,
    FilterSyntaxError,
    name_filter,
    name_test,
    parse_filter,
    quoted,
    string_test,
)
from wallaroo_registry_ui.server.connectors.mlflow import MlflowConnector


def _name(operator: str, value: object) -> Clause:
    return Clause(ATTRIBUTE, "name", operator, value)


@pytest.mark.parametrize(
    "text, clauses",
    [
        ("", ()),
        ("   ", ()),
        ("name = 'churn'", (_name("=", "churn"),)),
        ('name="churn"', (_name("=", "churn"),)),
        ("name <> 'a'", (_name("!=", "a"),)),
        ("name != 'a'", (_name("!=", "a"),)),
        ("name like '%a%'", (_name("LIKE", "%a%"),)),
        ("name LIKE 'a%' and name ILIKE '%B'", (_name("LIKE", "a%"), _name("ILIKE", "%B"))),
        ("name = 'a and b'", (_name("=", "a and b"),)),
        ("name = 'say \"hi\"'", (_name("=", 'say "hi"'),)),
        ('name = "it\'s"', (_name("=", "it's"),)),
        ("name = ''", (_name("=", ""),)),
        ("attribute.name = 'x'", (_name("=", "x"),)),
        ("NAME = 'x'", (Clause(ATTRIBUTE, "NAME", "=", "x"),)),
        ("name IN ('a', \"b\")", (_name("IN", ("a", "b")),)),
        ("name not in ('a')", (_name("NOT IN", ("a",)),)),
        ("tags.team = 'ml'", (Clause(TAG, "team", "=", "ml"),)),
        ("tag.`my key` != 'x'", (Clause(TAG, "my key", "!=", "x"),)),
        ("tags.\"quoted key\" LIKE 'v%'", (Clause(TAG, "quoted key", "LIKE", "v%"),)),
        (
            "tags.mlflow.prompt.is_prompt = 'true'",
            (Clause(TAG, "mlflow.prompt.is_prompt", "=", "true"),),
        ),
        ("tags.x IS NULL", (Clause(TAG, "x", "IS NULL", None),)),
        ("tags.x is not null", (Clause(TAG, "x", "IS NOT NULL", None),)),
        ("version_number >= 3", (Clause(ATTRIBUTE, "version_number", ">=", 3),)),
        ("metrics.acc > 0.5", (Clause(METRIC, "acc", ">", 0.5),)),
        ("metric.loss<-1e-3", (Clause(METRIC, "loss", "<", -0.001),)),
        (
            "name = 'a' AND tags.t = 'b' AND run_id = 'r'",
            (_name("=", "a"), Clause(TAG, "t", "=", "b"), Clause(ATTRIBUTE, "run_id", "=", "r")),
        ),
    ],
)
def test_filters_parse(text, clauses):
    assert parse_filter(text) == Filter(clauses)


@pytest.mark.parametrize(
    "text",
    [
        "bogus",
        "name",
        "name =",
        "name = 'x",
        "name = x",
        "name == 'a'",
        "name = 'a' AND",
        "AND name = 'a'",
        "name = 'a' OR name = 'b'",
        "name = 'a' name = 'b'",
        "name = 'it''s'",
        "name LIKE 5",
        "name IN 'a'",
        "name IN ()",
        "name IN ('a',)",
        "name NOT LIKE 'a'",
        "tags.x IS 'y'",
        "'a' = name",
        "foo.name = 'x'",
        "name = 'a'; DROP TABLE models",
        "(name = 'a')",
    ],
)
def test_filters_outside_the_grammar_are_refused(text):
    with pytest.raises(FilterSyntaxError):
        parse_filter(text)


def test_refusals_say_where():
    with pytest.raises(FilterSyntaxError, match="cannot read the filter from character 6"):
        parse_filter("name ~ 'a'")
    with pytest.raises(FilterSyntaxError, match="expected an operator at character 6 of"):
        parse_filter("name 'a'")
    with pytest.raises(FilterSyntaxError, match="at character 12 of the filter, not 'OR'"):
        parse_filter("name = 'a' OR name = 'b'")
    with pytest.raises(FilterSyntaxError, match="ends too early"):
        parse_filter("name = 'a' and")


@pytest.mark.parametrize(
    "operator, value, matching, other",
    [
        ("=", "a.b", ["a.b"], ["A.B", "a.bc", "axb"]),
        ("!=", "a", ["b", "A", ""], ["a"]),
        ("LIKE", "a%", ["a", "abc", "a\nb"], ["A", "ba"]),
        ("LIKE", "%", ["", "anything"], []),
        ("LIKE", "a_c", ["abc", "a.c", "a😀c"], ["ac", "abbc", "ABC"]),
        ("LIKE", "a.c", ["a.c"], ["abc"]),
        ("LIKE", "(x)+[y]*", ["(x)+[y]*"], ["xy", "x"]),
        ("ILIKE", "Wine%", ["wine_quality", "WINE"], ["red wine"]),
        ("ILIKE", "%naïve", ["NAÏVE", "so naïve"], ["naive"]),
    ],
)
def test_string_tests(operator, value, matching, other):
    test = string_test(operator, value)
    assert [text for text in matching + other if test(text)] == matching


def test_name_tests_keep_name_clauses_only():
    assert name_test(None)("anything") and name_test("")("x") and name_test("  ")("x")
    both = name_test("name LIKE 'main.%' AND name != 'main.ml.fraud'")
    names = ["main.ml.churn", "main.ml.fraud", "dev.x.y"]
    assert [n for n in names if both(n)] == ["main.ml.churn"]
    assert name_test("name = 'a and b'")("a and b")
    assert name_test("name <> 'a'")("b") and not name_test("name <> 'a'")("a")
    for text in (
        "tags.team = 'ml'",
        "name = 'a' AND tags.team = 'ml'",
        "run_id = 'abc'",
        "name IN ('a')",
        "name = 5",
        "bogus",
        "name = 'unterminated",
    ):
        assert name_test(text) is None, text


@pytest.mark.parametrize(
    "name, literal",
    [("plain", "'plain'"), ("it's", '"it\'s"'), ('say "hi"', "'say \"hi\"'"), ("a'b\"c", None)],
)
def test_quoting(name, literal):
    assert quoted(name) == literal
    if literal is not None:
        assert parse_filter(f"name = {literal}").clauses[0].value == name


def test_name_filters_parse_and_match_their_name():
    for name in ("wine_quality", "it's", 'say "hi"', "a'quote\"dq", "模型-ü-😀 naïve", "%_"):
        test = name_test(name_filter(name))
        assert test is not None and test(name), name
    assert name_filter("a'quote\"dq") == "name LIKE 'a_quote\"dq'"


# --- against a real MLflow server -----------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow(mlflow_seed) -> Iterator[MlflowConnector]:
    con = MlflowConnector("local mlflow", mlflow_seed.url)
    yield con
    con.close()


def _names(con: MlflowConnector, filter: str | None = None) -> set[str]:
    names, token = set(), None
    while True:
        page = con.list_models(max_results=1000, page_token=token, filter=filter)
        names |= {item["name"] for item in page.items}
        token = page.next_page_token
        if not token:
            return names


# MLflow's SQLite store folds only ASCII letters for ILIKE (SQLite's lower()), and Python
# folds every letter; the ILIKE patterns here keep to ASCII letters, where both agree.
ORACLE_FILTERS = [
    "name LIKE '%model%'",
    "name LIKE 'bulk-model-1_'",
    "name LIKE 'bulk-model-2_5'",
    "name LIKE '%_model'",
    "name LIKE 'W%'",
    "name LIKE 'w%'",
    "name ILIKE 'W%'",
    "name ILIKE '%MODEL-00%'",
    "name LIKE '%<img%'",
    "name LIKE '%=%(1)%'",
    "name LIKE '%ü%'",
    "name LIKE '模型%'",
    "name LIKE '%😀%'",
    "name LIKE '%\u00ef%'",
    "name LIKE 'a_quote_dq'",
    "name LIKE 'a\"quote%'",
    "name LIKE '%.%'",
    "name LIKE '%'",
    "name = 'empty_model'",
    "name = 'EMPTY_MODEL'",
    "name != 'empty_model'",
    "name LIKE 'bulk%' AND name != 'bulk-model-000' AND name LIKE '%0'",
    "name ILIKE 'BULK-MODEL-00_' and name like '%1'",
]


@pytest.mark.parametrize("filter", ORACLE_FILTERS)
def test_name_tests_match_what_mlflow_finds(mlflow, mlflow_seed, filter):
    every = _names(mlflow)
    assert set(mlflow_seed.model_names) <= every
    found = _names(mlflow, filter)
    test = name_test(filter)
    assert test is not None
    assert {name for name in every if test(name)} == found
    assert found != every or filter == "name LIKE '%'"


def test_name_filters_find_their_model_on_mlflow(mlflow, mlflow_seed):
    for name in (*mlflow_seed.odd_models, mlflow_seed.wine_model):
        assert name in _names(mlflow, name_filter(name)), name
