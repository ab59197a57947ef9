"""The Slack consumer's Lambda entry."""

from consumers.runtime.lambda_entry import lambda_handler_for
from consumers.slack.channel import build_slack_channel

handler = lambda_handler_for(build_slack_channel)
