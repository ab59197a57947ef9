from __future__ import annotations

import base64
from typing import Any

import pytest

from fanout.dynamo import AttributeValueError, from_attribute_value, from_item, parse_number


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"S": "hi"}, "hi"),
        ({"N": "42"}, 42),
        ({"N": "-7"}, -7),
        ({"N": "1.37"}, 1.37),
        ({"N": "1E3"}, 1000.0),
        ({"N": "12345678901234567890"}, 12345678901234567890),
        ({"BOOL": False}, False),
        ({"NULL": True}, None),
        ({"SS": ["b", "a"]}, ["a", "b"]),
        ({"NS": ["2", "1.5"]}, [1.5, 2]),
        ({"B": base64.b64encode(b"\x00\x01").decode()}, b"\x00\x01"),
        ({"BS": [base64.b64encode(b"x").decode()]}, [b"x"]),
        ({"L": [{"S": "a"}, {"N": "1"}, {"M": {"k": {"NULL": True}}}]}, ["a", 1, {"k": None}]),
    ],
)
def test_attribute_values_become_plain_values(value: dict[str, Any], expected: Any) -> None:
    assert from_attribute_value(value) == expected


def test_integral_numbers_stay_exact_ints_and_fractions_become_floats() -> None:
    assert isinstance(parse_number("123"), int)
    assert isinstance(parse_number("1.0"), float)


def test_nested_item() -> None:
    image = {"a": {"M": {"b": {"L": [{"M": {"c": {"N": "3"}}}]}}}, "s": {"S": "x"}}
    assert from_item(image) == {"a": {"b": [{"c": 3}]}, "s": "x"}


@pytest.mark.parametrize(
    "value",
    [
        {"S": 1},
        {"N": "abc"},
        {"N": "NaN"},
        {"Q": "x"},
        {"S": "a", "N": "1"},
        "plain",
        {"M": ["not", "a", "map"]},
        {"B": "!!!not base64"},
    ],
)
def test_malformed_attribute_values_raise(value: Any) -> None:
    with pytest.raises(AttributeValueError):
        from_attribute_value(value)


@pytest.mark.parametrize("text", ["1e400", "9" * 39, "1" + "0" * 5000, "1E-131", "-1E+126"])
def test_numbers_dynamodb_cannot_hold_are_malformed(text: str) -> None:
    with pytest.raises(AttributeValueError, match="beyond DynamoDB"):
        parse_number(text)


@pytest.mark.parametrize("text", ["0", "-0.0", "9" * 38, "1E-130", "9.9E+125", "12345678901234567.5"])
def test_numbers_within_dynamodbs_range_parse(text: str) -> None:
    assert parse_number(text) == (int(text) if text.isdigit() else float(text))
