"""The template lint `make test` runs: errors fail it, explained warnings are listed."""

from __future__ import annotations

from fanout.local.cfn_lint import lint, rule_of


def test_an_invalid_template_has_errors_and_a_valid_one_none():
    bad = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "soon"}}}}
    errors, _ = lint(bad)
    assert errors
    good = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}}}
    assert lint(good) == ([], [])


def test_rule_ids_are_read_from_parseable_lines():
    assert rule_of("/t/Fanout.template.json:1:2:3:4:W3005:'X' dependency already enforced") == "W3005"
