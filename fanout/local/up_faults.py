"""A run attached to `fanout local up` brings its faults: they join up's stand-ins' schedule.

A scenario's faults are a timeline from the moment its run starts writing; up's schedule was armed when
up started. So each fault joins shifted by up's elapsed time, and from then on applies to every call the
stand-ins answer (other traffic written meanwhile meets it too, as it would meet a real provider's
outage). The schedule belongs to the stand-ins (fanout/local/fakes/faults.py); joining happens under its
lock, the same way its own constructor lays out the faults and their hit counts.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from fanout.local.fakes.faults import Fault, FaultKind, FaultSchedule


def fault_to_json(fault: Fault) -> dict[str, Any]:
    data = dataclasses.asdict(fault)
    data["kind"] = str(fault.kind)
    data["methods"] = sorted(fault.methods)
    data["duration_s"] = None if math.isinf(fault.duration_s) else fault.duration_s
    return data


def fault_from_json(data: Mapping[str, Any]) -> Fault:
    """A fault as fault_to_json wrote it; raises ValueError/KeyError/TypeError for anything else."""
    fields = {f.name for f in dataclasses.fields(Fault)}
    unknown = set(data) - fields
    if unknown:
        raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
    values = dict(data)
    values["kind"] = FaultKind(values["kind"])
    values["methods"] = frozenset(str(m) for m in values.get("methods") or ())
    duration = values.get("duration_s")
    values["duration_s"] = math.inf if duration is None else float(duration)
    return Fault(**values)


def join(schedule: FaultSchedule, faults: Iterable[Fault], now: float | None = None) -> int:
    """Add `faults` to an armed schedule as if it had been armed at `now`; returns how many joined."""
    schedule.arm()
    elapsed = schedule.elapsed(time.time() if now is None else now)
    shifted = tuple(dataclasses.replace(f, start_s=f.start_s + elapsed) for f in faults)
    with schedule._lock:
        schedule.faults = schedule.faults + shifted
        schedule._hits = schedule._hits + [0] * len(shifted)
    return len(shifted)
