"""The email consumer Lambda's entry point."""

from consumers.email.channel import build_email_channel
from consumers.runtime.lambda_entry import lambda_handler_for

handler = lambda_handler_for(build_email_channel)
