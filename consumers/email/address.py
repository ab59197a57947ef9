"""Email addresses the channel will send to or from: exactly one bare `local@domain`, nothing else.

A recipient comes from the task (`notification_email`, untrusted) or from a Cognito user. Whatever
reaches SES's Destination or FromEmailAddress must be one mailbox: no display name (`"CEO" <a@b>` or
`a@b <evil@c>` could show one address and send to another), no list (`a@b, c@d`), no comment, no CR/LF
or other control character (a header injection), no quoting. The rule is deliberately narrower than
RFC 5322: a dot-atom local part and a DNS host name, ASCII only (SES wants international domains in
punycode, and takes no non-ASCII local part without SMTPUTF8).
"""

from __future__ import annotations

import re

MAX_ADDRESS = 254  # RFC 5321's path limit less the angle brackets
MAX_LOCAL = 64
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def address_problem(value: object) -> str | None:
    """What makes `value` not one plain address (None when it is one)."""
    if not isinstance(value, str):
        return "not a string"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "contains a control character (CR/LF)"
    if value != value.strip():
        return "has surrounding whitespace"
    if len(value) > MAX_ADDRESS:
        return f"longer than {MAX_ADDRESS} characters"
    if not value.isascii():
        return "not ASCII"
    if any(c in value for c in ' ,;<>()"[]\\:'):
        return "not a single bare address (display name, list, comment or quoting)"
    local, at, domain = value.rpartition("@")
    if not at or not local or "@" in local:
        return "not of the form local@domain"
    if len(local) > MAX_LOCAL or not _LOCAL.fullmatch(local):
        return "invalid local part"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        return "invalid domain"
    return None


def is_address(value: object) -> bool:
    return address_problem(value) is None


def sender_problem(value: str) -> str | None:
    """The synth check of `fanout:email:from` (the registry names it)."""
    problem = address_problem(value)
    return None if problem is None else f"{value!r} is not a single email address: {problem}"


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]
