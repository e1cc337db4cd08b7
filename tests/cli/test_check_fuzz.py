"""``spanline check`` on hostile input: random rules text, random logs, random names.

Rules text either validates or is one bad-input error; any log folds into facts
every rule evaluates on; whatever a run holds, the JUnit XML parses and printed
text carries no control character. Derandomized, no deadline (a shared machine).
"""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spanline.cli._app import CliError
from spanline.cli._check import TEXT_MAX, clean, junit_xml
from spanline.cli._rules_file import parse_rules
from spanline.folds._facts import run_facts
from spanline.folds.rules import RuleResult, RulesSpec, evaluate
from tests.folds.test_fuzz_readers import runs

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_KEYS = ["run", "agents", "phases", "tools", "no_errors", "planned_agents_finished",
         "no_stalls", "baseline", "name", "kind", "max_calls", "max_tokens", "max_cost_usd",
         "max_duration_ms", "except_tools", "max_regression_pct", "min_ms", "zzz"]  # fmt: skip
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
)
_docs = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)
    ),
    max_leaves=10,
)

#: Every rule, for the evaluation on random logs.
EVERY_RULE = {
    "run": {"max_duration_ms": 1, "max_cost_usd": 0, "max_tokens": 1},
    "agents": [{"kind": "agent", "max_tokens": 1}, {"name": "lead", "max_duration_ms": 1}],
    "phases": [{"name": "p1", "max_duration_ms": 1, "max_cost_usd": 0}],
    "tools": [{"name": "grep", "max_calls": 0}],
    "no_errors": {"except_tools": ["grep"]},
    "planned_agents_finished": True,
    "no_stalls": True,
    "baseline": {"max_regression_pct": 0, "min_ms": 0},
}


def _printable(text: str) -> bool:
    return all(unicodedata.category(ch)[0] != "C" for ch in text)


@FUZZ
@given(_docs, st.booleans())
def test_random_rules_validate_or_are_one_bad_input_line(doc: Any, as_toml: bool) -> None:
    text = yaml.safe_dump(doc) if not as_toml else f"key = {orjson.dumps(str(doc)).decode()}\n"
    try:
        spec = parse_rules(text, toml=as_toml)
    except CliError as exc:
        assert exc.code == 2 and "\n" not in str(exc).strip()
    else:
        assert isinstance(spec, RulesSpec)


@FUZZ
@given(st.text(max_size=200))
def test_random_rules_text_never_raises_anything_else(text: str) -> None:
    for toml in (False, True):
        try:
            parse_rules(text, toml=toml)
        except CliError as exc:
            assert exc.code == 2


@pytest.mark.timeout(60)
def test_nested_aliases_cost_their_size_not_their_expansion() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}]" for n in range(1, 30)]
    lines.append("tools: *a29")
    with pytest.raises(CliError) as caught:
        parse_rules("\n".join(lines) + "\n")
    assert caught.value.code == 2


@FUZZ
@given(runs)
def test_every_rule_evaluates_on_any_log_and_its_reports_stay_well_formed(
    run: list[dict[str, Any]],
) -> None:
    facts = run_facts(run)
    spec = RulesSpec.model_validate(EVERY_RULE)
    results = evaluate(spec, facts, baseline=facts.profile)
    assert len(results) == 12
    orjson.dumps([result.to_dict() for result in results])
    ET.fromstring(junit_xml(results, facts.summary.run_id))


@FUZZ
@given(st.text(max_size=1000), st.text(max_size=50))
def test_quoted_text_is_cleaned_and_the_xml_parses(text: str, rule: str) -> None:
    cleaned = clean(text)
    assert _printable(cleaned) and len(cleaned) <= TEXT_MAX
    result = RuleResult(rule=rule, passed=False, detail=text, evidence=(text,), offending=1)
    root = ET.fromstring(junit_xml([result], text))
    failure = root.find("./testsuite/testcase/failure")
    assert failure is not None and _printable(failure.get("message") or "")
