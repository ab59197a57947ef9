"""DynamoDB attribute values to plain Python values and back, without boto3's (de)serializers.

Numbers become int when integral and float otherwise. Everything the fan-out does with a number is
display (cost, duration) or an identifier (issue, PR, comment id), and the values travel on as JSON, where
Decimal has no representation; int keeps identifiers exact, float is exact enough for display.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

# DynamoDB's number range: up to 38 significant digits, magnitudes from 1E-130 to below 1E+126. Anything
# else cannot come from DynamoDB and would not survive JSON (inf, or ints past Python's digit limit).
MIN_MAGNITUDE = Decimal("1E-130")
MAX_MAGNITUDE = Decimal("1E+126")


class AttributeValueError(ValueError):
    """An attribute value that is not a well-formed DynamoDB attribute value."""


def parse_number(text: str) -> int | float:
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise AttributeValueError(f"N value {text!r} is not a number") from exc
    if not number.is_finite():
        raise AttributeValueError(f"N value {text!r} is not finite")
    out_of_range = bool(number) and not MIN_MAGNITUDE <= abs(number) < MAX_MAGNITUDE
    if out_of_range or len(number.as_tuple().digits) > 38:
        raise AttributeValueError(
            f"N value {text[:40]!r} is beyond DynamoDB's numbers (38 digits, 1E-130..1E+126)"
        )
    if number == number.to_integral_value() and "e" not in text.lower() and "." not in text:
        return int(number)
    return float(number)


def from_attribute_value(value: Any) -> Any:
    """One `{"S": ...}`-style attribute value to a plain value (nested maps and lists included)."""
    # Concrete dict checks first: this runs for every attribute of every stream record.
    if not isinstance(value, dict | Mapping) or len(value) != 1:
        raise AttributeValueError(f"expected a single-key attribute value, got {type(value).__name__}")
    ((tag, inner),) = value.items()
    if tag == "S":
        if type(inner) is str:
            return inner
        return _expect(inner, str, tag)
    if tag == "N":
        return parse_number(_expect(inner, str, tag))
    if tag == "BOOL":
        return _expect(inner, bool, tag)
    if tag == "NULL":
        return None
    if tag == "M":
        return {str(k): from_attribute_value(v) for k, v in _expect(inner, (dict, Mapping), tag).items()}
    if tag == "L":
        return [from_attribute_value(v) for v in _expect(inner, list, tag)]
    if tag == "SS":
        return sorted(_expect(item, str, tag) for item in _expect(inner, list, tag))
    if tag == "NS":
        return sorted(parse_number(_expect(item, str, tag)) for item in _expect(inner, list, tag))
    if tag == "B":
        return _binary(inner)
    if tag == "BS":
        return [_binary(item) for item in _expect(inner, list, tag)]
    raise AttributeValueError(f"unknown attribute type {tag!r}")


def from_item(image: Mapping[str, Any]) -> dict[str, Any]:
    """A whole item (an attribute-name to attribute-value map) to a plain dict."""
    return {str(name): from_attribute_value(value) for name, value in image.items()}


def _binary(inner: Any) -> bytes:
    if isinstance(inner, bytes | bytearray):
        return bytes(inner)
    try:
        return base64.b64decode(_expect(inner, str, "B"), validate=True)
    except ValueError as exc:
        raise AttributeValueError("B value is not base64") from exc


def _expect(inner: Any, kind: type | tuple[type, ...], tag: str) -> Any:
    if not isinstance(inner, kind):
        raise AttributeValueError(f"{tag} value has type {type(inner).__name__}")
    return inner


def to_attribute(value: Any, path: str = "") -> dict[str, Any]:
    """A plain JSON value to a DynamoDB attribute value (numbers become N, objects M, lists L)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float | Decimal):
        if isinstance(value, float | Decimal) and not math.isfinite(value):
            raise ValueError(f"{path or 'value'} is not a finite number")
        return {"N": str(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attribute(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(v, f"{path}[{i}]") for i, v in enumerate(value)]}
    raise ValueError(f"{path or 'value'} has unsupported type {type(value).__name__}")


def to_item(plain: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): to_attribute(v, str(k)) for k, v in plain.items()}
