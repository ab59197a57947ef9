"""The GitHub consumer Lambda's entry point."""

from consumers.github.channel import build_github_channel
from consumers.runtime.lambda_entry import lambda_handler_for

handler = lambda_handler_for(build_github_channel)
