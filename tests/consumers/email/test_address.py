"""One plain address or nothing: display-name tricks, lists, comments and header injection refused."""

from __future__ import annotations

import pytest

from consumers.email.address import address_problem, sender_problem


@pytest.mark.parametrize(
    "address",
    ["dev@example.com", "first.last+tag@sub.example.co.uk", "o'brien@example.org", "x_y-z@a-b.example"],
)
def test_plain_addresses_are_accepted(address: str) -> None:
    assert address_problem(address) is None


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ('"Support" <attacker@evil.example>', "display name"),
        ("victim@example.com <attacker@evil.example>", "display name"),
        ("Victim <victim@example.com>", "display name"),
        ("victim@example.com,attacker@evil.example", "list"),
        ("victim@example.com;attacker@evil.example", "list"),
        ("victim@example.com (comment)", "comment"),
        ('"victim@example.com"@evil.example', "quoting"),
        ("victim@example.com\r\nBcc: attacker@evil.example", "control character"),
        ("victim@example.com\n", "control character"),
        ("victim@example.com\x00", "control character"),
        (" victim@example.com", "whitespace"),
        ("victim@@example.com", "local@domain"),
        ("victim@example", "domain"),
        ("victim@-example.com", "domain"),
        ("victim@example.123", "domain"),
        (".victim@example.com", "local part"),
        ("vic..tim@example.com", "local part"),
        ("victim", "local@domain"),
        ("@example.com", "local@domain"),
        ("vïctim@example.com", "ASCII"),
        ("a" * 65 + "@example.com", "local part"),
        ("a@" + "b" * 250 + ".com", "longer than"),
    ],
)
def test_anything_but_one_plain_address_is_refused(address: str, problem: str) -> None:
    found = address_problem(address)
    assert found is not None
    assert problem in found


@pytest.mark.parametrize("value", [None, 42, ["a@example.com"], {"email": "a@example.com"}])
def test_a_value_that_is_not_text_is_refused(value: object) -> None:
    assert address_problem(value) == "not a string"


def test_the_sender_check_names_the_value() -> None:
    assert sender_problem("fanout@example.com") is None
    problem = sender_problem("Fanout <fanout@example.com>")
    assert problem is not None
    assert problem.startswith("'Fanout <fanout@example.com>' is not a single email address")
