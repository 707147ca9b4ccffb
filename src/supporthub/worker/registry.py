"""Periodic jobs the `supporthub worker` runs in its own loop, each at its own interval.

An app registers a job in its `tasks` module (the worker imports every installed app's
`tasks` module at start, as the admin does with `admin` modules):

    from supporthub.worker.registry import periodic

    @periodic(every=30, name="breach scan")
    def scan() -> int: ...

Jobs run in the worker process, one after another; each must be safe to run on several
machines at once (claim rows in the database, never trust that it is the only runner).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.utils.module_loading import autodiscover_modules

Job = TypeVar("Job", bound=Callable[[], object])


@dataclass(frozen=True)
class Periodic:
    name: str
    every: float  # seconds between the end of one run and the start of the next
    run: Callable[[], object]


_registry: dict[str, Periodic] = {}


def register(name: str, *, every: float, run: Callable[[], object]) -> None:
    if every <= 0:
        raise ValueError(f"periodic job {name!r}: every must be a positive number of seconds")
    _registry[name] = Periodic(name=name, every=float(every), run=run)


def periodic(*, every: float, name: str = "") -> Callable[[Job], Job]:
    """Register the decorated function as a periodic job (by default named after it)."""

    def decorate(function: Job) -> Job:
        register(
            name or f"{function.__module__}.{function.__qualname__}", every=every, run=function
        )
        return function

    return decorate


def periodic_jobs() -> list[Periodic]:
    """Every registered job, after importing each installed app's `tasks` module."""
    autodiscover_modules("tasks")
    return sorted(_registry.values(), key=lambda job: job.name)
