"""The time parts of the scenario schema: the ``timeline`` block and an outage's partial ``restore`` steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

#: the most steps a timeline may have (horizon_h / step_h)
MAX_STEPS = 10_000
#: built-in daily demand shapes (``gridsim.profiles``); ``auto`` follows ``start``'s season and weekday
PROFILES = ("flat", "auto", "winter-weekday", "winter-weekend", "summer-weekday", "summer-weekend")


def _error(message: str, subkey: str | None = None) -> PydanticCustomError:
    return PydanticCustomError("gridsim", "{message}", {"message": message, "subkey": subkey})


def _number(description: str, default: Any = ..., **bounds: float) -> Any:
    return Field(default, description=description, strict=True, allow_inf_nan=False, **bounds)


class Restore(BaseModel):
    """One partial repair of an outage: from ``after_h`` hours after the strike, ``derate`` of the capacity is
    back (omit ``derate``: fully back)."""

    model_config = ConfigDict(extra="forbid")

    after_h: float = _number("hours after the strike when this repair is done", gt=0, le=100_000)
    derate: float | None = _number("fraction of capacity available from then on (omit: fully back)", None,
                                   ge=0, lt=1)


class Timeline(BaseModel):
    """Simulate the scenario over time: every outage strikes at its ``at_h`` and comes back after its
    ``repair_h`` (or its ``restore`` steps); demand follows a daily profile; solar follows the sun."""

    model_config = ConfigDict(extra="forbid")

    horizon_h: float = _number("hours simulated", gt=0, le=8760)
    step_h: float = _number("length of a step in hours (1, 0.5, 0.25, ...)", 1.0, gt=0, le=24)
    start: datetime | None = Field(None, description=(
        "date and time of hour 0 (e.g. `2026-01-15T00:00`): the season and weekday of the built-in profiles "
        "and the sun's hours; omitted: a winter weekday starting at midnight"))
    profile: str = Field("auto", min_length=1, max_length=4096, description=(
        "daily demand shape: a built-in (" + ", ".join(f"`{p}`" for p in PROFILES) + "; `auto` follows "
        "`start`'s season and weekday) or a CSV file (columns `hour` or `timestamp`, optional `region`, "
        "`factor`: demand as a fraction of the scenario's demand), relative to the scenario file"))

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                raise _error(f"expected a date and time like 2026-01-15T00:00, got {value[:40]!r}") from None
        return value

    @model_validator(mode="after")
    def _steps(self) -> Timeline:
        n = self.horizon_h / self.step_h
        if abs(n - round(n)) > 1e-9:
            raise _error(f"horizon_h ({self.horizon_h:g}) must be a whole number of steps of {self.step_h:g} h",
                         "horizon_h")
        if round(n) > MAX_STEPS:
            raise _error(f"a timeline has at most {MAX_STEPS:,} steps; {self.horizon_h:g} h in steps of "
                         f"{self.step_h:g} h is {round(n):,}", "step_h")
        return self

    @property
    def n_steps(self) -> int:
        return int(round(self.horizon_h / self.step_h))


class Restoration(BaseModel):
    """Decide when each repair starts, with the crews there are (needs a ``timeline``): ``repair_h`` of each
    outage is then the crew's work time, and no repair starts before its strike."""

    model_config = ConfigDict(extra="forbid")

    crews: int = Field(description="repairs worked on in parallel; a crew works on one asset at a time",
                       ge=1, le=1000, strict=True)
    objective: Literal["ens", "weighted", "customer_hours"] = Field("ens", description=(
        "what the order minimises: `ens` (energy not served, MWh), `weighted` (priority-weighted: critical "
        "100, normal 10, interruptible 1 per MWh), `customer_hours` (customer-hours without power)"))
    method: Literal["auto", "exact", "greedy", "local"] = Field("auto", description=(
        "`exact`: every repair order (at most 8 repairs); `greedy`: most demand back per crew-hour first; "
        "`local`: the greedy order improved by swaps; `auto`: exact up to 6 repairs, else local"))
    time_limit_s: float = _number("time the local search may take, in seconds", 60.0, gt=0, le=86_400)
