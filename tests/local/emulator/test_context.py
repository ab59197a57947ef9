from __future__ import annotations

from fanout.local.emulator.context import LambdaContext


def test_context_has_what_handlers_read():
    context = LambdaContext("fanout-local-slack-consumer", timeout_s=30, memory_limit_in_mb=256)
    remaining = context.get_remaining_time_in_millis()
    assert 29_000 < remaining <= 30_000
    assert context.invoked_function_arn.endswith(":function:fanout-local-slack-consumer")
    assert context.memory_limit_in_mb == 256
    assert context.aws_request_id
    assert context.log_group_name == "/aws/lambda/fanout-local-slack-consumer"


def test_remaining_time_never_goes_negative():
    assert LambdaContext("f", timeout_s=0).get_remaining_time_in_millis() == 0
