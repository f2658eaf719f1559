"""Decide whether a live object already holds an applied configuration (pure).

Server-side apply of an unchanged configuration is a no-op on the server, but it is still a write
request. To keep an idle fleet at zero writes the operator compares first and applies only when some
field it owns differs. The live object carries extra fields (apiserver defaults, other managers'
fields, status), so the test is "desired is contained in live", with the merge semantics of the
Kubernetes types the operator writes:

* maps: every desired key must be present and contain the desired value;
* lists of objects keyed by ``name`` (containers, env, ports, volumes, mounts): every desired element
  must be present by name (other managers may add more);
* other lists: same length, element-wise containment;
* quantities compare by value ("0.5" == "500m", "1024Mi" == "1Gi"): the apiserver stores them in
  canonical form, so comparing text would re-apply forever. That is everything under ``resources``
  (containers, ephemeral volume claims) plus ``emptyDir.sizeLimit`` and ``resourceFieldRef.divisor``
  (env and downward-API volumes), the other quantities a pod template can carry;
* other int-or-string values compare by text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([a-zA-Z]*|[eE][+-]?\d+)$")
_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def quantity(value: str | int) -> Decimal | None:
    """The numeric value of a Kubernetes quantity, or None if it is not one."""
    if isinstance(value, int):
        return Decimal(value)
    match = _QUANTITY.match(value.strip())
    if not match:
        return None
    number, suffix = match.groups()
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number) * (Decimal(10) ** int(suffix[1:]))
        if suffix not in _SUFFIX:
            return None
        return Decimal(number) * _SUFFIX[suffix]
    except InvalidOperation:
        return None


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def mismatches(desired: Any, live: Any, path: str = "") -> list[str]:
    """Paths (dotted) where ``live`` does not hold ``desired``; empty when it does."""
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return [path or "."]
        out: list[str] = []
        for key, value in desired.items():
            if key not in live:
                out.append(f"{path}.{key}")
            else:
                out.extend(mismatches(value, live[key], f"{path}.{key}"))
        return out
    if isinstance(desired, list):
        if not isinstance(live, list):
            return [path]
        if _named(desired):
            by_name = {i.get("name"): i for i in live if isinstance(i, dict)}
            out = []
            for item in desired:
                sub = f"{path}[{item['name']}]"
                if item["name"] not in by_name:
                    out.append(sub)
                else:
                    out.extend(mismatches(item, by_name[item["name"]], sub))
            return out
        if len(desired) != len(live):
            return [path]
        out = []
        for i, (d, v) in enumerate(zip(desired, live, strict=True)):
            out.extend(mismatches(d, v, f"{path}[{i}]"))
        return out
    return [] if _scalar_equal(desired, live, path) else [path]


# Last path segments that hold a quantity wherever they appear in a pod template.
_QUANTITY_FIELDS = ("sizeLimit", "divisor")


def is_quantity_path(path: str) -> bool:
    """True for the dotted paths (as ``mismatches`` builds them) whose value is a resource.Quantity."""
    return ".resources." in path or path.rsplit(".", 1)[-1] in _QUANTITY_FIELDS


def _scalar_equal(desired: Any, live: Any, path: str) -> bool:
    if desired == live and type(desired) is type(live):
        return True
    if isinstance(desired, bool) or isinstance(live, bool):
        return False
    if is_quantity_path(path) and isinstance(desired, str | int) and isinstance(live, str | int):
        a, b = quantity(desired), quantity(live)
        return a is not None and a == b
    if isinstance(desired, str | int) and isinstance(live, str | int):
        return str(desired) == str(live)
    return False


def holds(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    """True when ``live`` already holds everything ``desired`` sets."""
    return live is not None and not mismatches(desired, live)
