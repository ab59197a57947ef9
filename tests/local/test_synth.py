"""The local synth: the CDK app run as the CLI runs it, cached by a hash of what the stack depends on."""

from __future__ import annotations

import pytest

from fanout.local.runner import BadInput, run_local
from fanout.local.synth import cache_key, synthesize

from .conftest import fresh_account, local_options

CONTEXT = {"fanout:namePrefix": "cache-test", "fanout:stackName": "cache-test"}


def test_a_second_synth_with_the_same_inputs_reads_the_cache(tmp_path):
    first = synthesize(CONTEXT, stack_name="cache-test", cache=tmp_path)
    second = synthesize(CONTEXT, stack_name="cache-test", cache=tmp_path)

    assert (first.cached, second.cached) == (False, True)
    assert second.template == first.template
    assert second.seconds < first.seconds / 5
    queues = {r["Properties"].get("QueueName") for r in first.template["Resources"].values()}
    assert "cache-test-slack.fifo" in queues
    assert [a.key.endswith(".zip") for a in first.assets] == [True]


def test_the_cache_key_covers_the_context_and_the_code(tmp_path):
    assert cache_key(CONTEXT) == cache_key(dict(CONTEXT))
    assert cache_key(CONTEXT) != cache_key({**CONTEXT, "fanout:slack:batchSize": 5})
    root = tmp_path / "app"
    (root / "infra").mkdir(parents=True)
    (root / "app.py").write_text("one")
    before = cache_key(CONTEXT, root)
    (root / "infra" / "stack.py").write_text("changed")
    assert cache_key(CONTEXT, root) != before


def test_a_context_the_stack_rejects_stops_the_run_before_anything_is_deployed(moto_endpoint, aws_client):
    with pytest.raises(BadInput, match=r"cannot synthesize the stack: .*fanout:namePrefix='bad_prefix'"):
        run_local(local_options(aws_endpoint=moto_endpoint, account=fresh_account(), prefix="bad_prefix"))
    stacks = aws_client("cloudformation").list_stacks()["StackSummaries"]
    assert "bad_prefix" not in {s["StackName"] for s in stacks}
