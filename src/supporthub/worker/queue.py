"""Durable queues: rows in a table are the work; a task only wakes a worker to drain them.

The outbox, the page deliveries and the inbox all work this way. A new queue (webhooks,
reports, invitations ...) is a model with a few fields plus a handler function:

1. The model has `state`, `attempts` (PositiveIntegerField, default 0), `next_attempt_at`
   (DateTimeField, default timezone.now), `claimed_at` (DateTimeField, null), `claimed_by`
   (CharField(max_length=300, blank=True)) and `last_error` (TextField, blank); the states
   are pending, sending, sent and failed (other spellings: Queue's `pending`, `claimed`,
   `done`, `failed`). Give it two partial indexes: `next_attempt_at` where the state is
   pending (the claim) and `claimed_at` where it is sending (the recovery), and a migration.
2. The handler `(row) -> Outcome` does the work of one row, once, and says how it went:
   `Outcome.done(**fields)` (fields to set with the sent state, e.g. sent_at),
   `Outcome.retry(error, after=None, **fields)` (None: the queue's backoff) or
   `Outcome.give_up(error, **fields)`. An exception it raises is logged and retried with
   backoff. It runs outside any transaction, after its claim was re-stamped; whatever it
   sends must be safe to send twice (a worker may die between sending and recording).
   What a whole batch shares (one SMTP connection) comes from `session`, a context manager
   yielding the handler (see notify.delivery). Side effects of the outcome (an audit entry)
   go in `on_done(row, attempts)` / `on_given_up(row, attempts, error)`.
3. Describe the queue beside the handler and register it:

       WEBHOOKS = register(Queue(
           name="webhooks", model=WebhookDelivery, handler=send_webhook,
           task="supporthub.hooks.tasks.deliver_webhooks",  # its path, not the task itself
           max_attempts="WEBHOOK_MAX_ATTEMPTS",             # a setting's name
           stuck_after=timedelta(minutes=5),                # a claim older than this is lost
           backoff=Backoff(first=timedelta(seconds=30), cap=timedelta(minutes=15)),
       ))

4. In the app's `tasks.py`, the task that drains it:

       @task()
       def deliver_webhooks() -> int:
           return WEBHOOKS.drain()

   After writing rows, wake it once they are committed:
   `transaction.on_commit(WEBHOOKS.wake, robust=True)`. In the admin,
   `actions = [retry_action(WEBHOOKS, description=..., message=...)]`, with
   `RetryPermission` first in the ModelAdmin's bases. A due rule beyond "pending and
   next_attempt_at has come" (paging's events in order) is `due=`, a function of now giving
   a Q; `select_related=` loads what the handler reads, for the whole batch at once.

The task is named by its dotted path, as the task backend names it in its rows, so that the
module writing rows never imports the module draining them (no import cycle). What every
queue then gets: a claim that two workers share without waiting on each other
(`select_for_update(skip_locked=True)` where the database has it; on SQLite the claim's
transaction holds the write lock), a re-stamp of the claim before each row's work (a row
another worker took back is left to it: no double send), backoff with jitter and a cap,
recovery of claims whose holder process is gone (within seconds: the "abandoned claims"
periodic job) or that timed out, and the admin's retry. Every claim records its holder,
`holder()`: host, pid and the process's start time.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from django.conf import settings
from django.contrib import admin, messages
from django.db import connection, transaction
from django.db.models import F, Min, Model, Q, QuerySet
from django.db.models.options import Options
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules, import_string

from supporthub.worker import drain, wake

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=Model)
Handler = Callable[[M], "Outcome"]
ERROR_MAX = 2000


# -- who holds a claim -------------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), ""
    where /proc is not there, None when there is no such process (or it is a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode("ascii", "replace")
    except FileNotFoundError:
        if not os.path.isdir("/proc/self"):
            return _alive_elsewhere(pid)
        return None
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may hold anything: count after it.
    fields = text[text.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return ""
    if fields[0] in ("Z", "X"):  # exited; only its exit status is left
        return None
    return fields[19]


def _alive_elsewhere(pid: int) -> str | None:
    """Without /proc: "" when a process `pid` exists (its start time unknown), else None."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return ""  # it exists, as another user
    return ""


_holder: tuple[int, str] | None = None


def holder() -> str:
    """This process's token, `host:pid:start time`; computed once per process (again after a
    fork: the child is another holder)."""
    global _holder  # noqa: PLW0603 - one token per process, cached
    pid = os.getpid()
    if _holder is None or _holder[0] != pid:
        _holder = (pid, f"{socket.gethostname()}:{pid}:{_start_time(pid) or ''}")
    return _holder[1]


def holder_gone(token: str) -> bool:
    """True when `token` names a process of this host that no longer exists (or whose pid now
    belongs to a process started at another time). Other hosts' claims: False (they are
    recovered by their queue's time-out)."""
    try:
        host, pid_text, started = token.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname() or pid <= 0:
        return False
    now_started = _start_time(pid)
    if now_started is None:
        return True
    return bool(started and now_started and started != now_started)


# -- the description of a queue ------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """`first`, twice that, four times ... after the 1st, 2nd, 3rd ... failure, never over
    `cap`; plus up to `jitter_setting` percent (a setting's name, read at each use) on top, so
    rows that failed together do not all come back at the same instant."""

    first: timedelta
    cap: timedelta
    jitter_setting: str = ""

    def base(self, attempts: int) -> timedelta:
        delay: timedelta = self.first * (2 ** max(attempts - 1, 0))
        return min(delay, self.cap)

    def after(self, attempts: int) -> timedelta:
        percent = float(getattr(settings, self.jitter_setting, 0)) if self.jitter_setting else 0
        base = self.base(attempts)
        if percent <= 0:
            return base
        spread = random.uniform(0, percent / 100)  # noqa: S311 - spreading retries, not secrets
        return min(base * (1 + spread), self.cap)


@dataclass(frozen=True)
class Outcome:
    """What a handler says of one row: done (with fields to set), retry or give up."""

    kind: Literal["done", "retry", "give_up"]
    error: str = ""
    after: timedelta | None = None  # retry: how long to wait (None: the queue's backoff)
    fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def done(cls, **fields: Any) -> Outcome:
        return cls("done", fields=fields)

    @classmethod
    def retry(cls, error: str, *, after: timedelta | None = None, **fields: Any) -> Outcome:
        return cls("retry", error=error, after=after, fields=fields)

    @classmethod
    def give_up(cls, error: str, **fields: Any) -> Outcome:
        return cls("give_up", error=error, fields=fields)


@dataclass(eq=False)
class Queue(Generic[M]):
    """One durable queue (see the module's docstring). States and field names default to the
    outbox's; `counted_at_start` is the inbox's way: the attempt is counted (and committed)
    when its claim is re-stamped, before the work, and a row whose claim is given back with
    its attempts used up is given up on by the next claim (its work kills workers)."""

    name: str
    model: type[M]
    task: str  # the dotted path of the task that drains the queue
    max_attempts: str  # the name of the setting
    stuck_after: timedelta | Callable[[], timedelta]
    handler: Handler[M] | None = None
    # Instead of `handler`: opens what a batch shares (one SMTP connection) around it.
    session: Callable[[], AbstractContextManager[Handler[M]]] | None = None
    backoff: Backoff | None = None
    due: Callable[[datetime], Q] | None = None  # default: pending and next_attempt_at <= now
    order: tuple[str, ...] = ("next_attempt_at", "pk")
    select_related: tuple[str, ...] = ()
    batch: int = 100
    rounds: int = 20
    pending: str = "pending"
    claimed: str = "sending"
    done: str = "sent"
    failed: str = "failed"
    error_field: str = "last_error"
    due_field: str | None = "next_attempt_at"
    counted_at_start: bool = False
    interrupted: str = "Delivery was interrupted (the worker stopped while sending)."
    retry_fields: Mapping[str, Any] = field(default_factory=dict)  # also reset by a retry
    retry_exclude: Q | None = None  # failed rows a retry must leave failed
    on_done: Callable[[M, int], None] | None = None  # (row, attempts), once it is recorded
    on_given_up: Callable[[M, int, str], None] | None = None  # (row, attempts, error)

    @property
    def objects(self) -> QuerySet[M]:
        manager = self.model._meta.default_manager
        if manager is None:
            raise TypeError(f"queue {self.name!r}: {self.model.__name__} has no manager")
        rows: QuerySet[M] = manager.all()
        return rows

    def attempts_allowed(self) -> int:
        return int(getattr(settings, self.max_attempts))

    def claim_timeout(self) -> timedelta:
        return self.stuck_after() if callable(self.stuck_after) else self.stuck_after

    def due_filter(self, now: datetime) -> Q:
        if self.due is not None:
            return self.due(now)
        return Q(state=self.pending, **{f"{self.due_field}__lte": now})

    # -- waking ----------------------------------------------------------------------------

    def wake(self) -> None:
        """Ask a worker to drain this queue soon; never raises (see worker.wake)."""
        wake(import_string(self.task))

    def drain(self) -> int:
        """The task's body: batches until a short one, `rounds` at most, then a wake-up."""
        return drain(self.deliver_due, batch=self.batch, rounds=self.rounds, again=self.wake)

    # -- claiming ----------------------------------------------------------------------------

    def claim(self, *, now: datetime, limit: int) -> list[int]:
        """Take up to `limit` due rows for this process; their ids, oldest due first."""
        with transaction.atomic():
            due = self.objects.filter(self.due_filter(now)).order_by(*self.order)
            if connection.features.has_select_for_update_skip_locked:
                # Two workers on PostgreSQL take disjoint rows instead of waiting on each other.
                due = due.select_for_update(skip_locked=True)
            # On SQLite the transaction holds the database's write lock from BEGIN (IMMEDIATE).
            rows = list(due.values_list("pk", "attempts")[:limit])
            ids = [pk for pk, _ in rows]
            if self.counted_at_start:
                allowed = self.attempts_allowed()
                spent = [pk for pk, attempts in rows if attempts >= allowed]
                if spent:
                    self.objects.filter(pk__in=spent).update(
                        state=self.failed,
                        claimed_at=None,
                        claimed_by="",
                        **{self.error_field: self.interrupted.format(attempts=allowed)},
                    )
                    logger.error("%s: gave up on %s: their worker kept stopping", self.name, spent)
                ids = [pk for pk, attempts in rows if attempts < allowed]
            if ids:
                self.objects.filter(pk__in=ids, state=self.pending).update(
                    state=self.claimed, claimed_at=now, claimed_by=holder()
                )
            return ids

    def restamp(self, pk: Any, *, claimed_at: datetime | None, now: datetime) -> datetime | None:
        """Renew the claim just before the row's work, so a slow batch's later rows are not
        taken for a dead worker's; the new claim time, or None when another worker took the
        row back (leave it)."""
        renewed = max(now, timezone.now())
        stamp: dict[str, Any] = {"claimed_at": renewed, "claimed_by": holder()}
        if self.counted_at_start:
            stamp["attempts"] = F("attempts") + 1
        claim = self.objects.filter(pk=pk, state=self.claimed, claimed_at=claimed_at)
        return renewed if claim.update(**stamp) else None

    def recover(self, *, now: datetime | None = None) -> int:
        """Give back the claims whose holder is gone or that timed out; how many. The
        interrupted attempt counts, so a row that kills its worker every time ends failed.
        One query (on the claimed rows' index) when nothing needs recovering."""
        now = now or timezone.now()
        claimed = self.objects.filter(state=self.claimed, claimed_at__isnull=False)
        holders = list(
            claimed.order_by().values_list("claimed_by").annotate(oldest=Min("claimed_at"))
        )
        if not holders:
            return 0
        cutoff = now - self.claim_timeout()
        gone = [token for token, _ in holders if token and holder_gone(token)]
        if not gone and all(oldest >= cutoff for _, oldest in holders):
            return 0
        lost = claimed.filter(Q(claimed_at__lt=cutoff) | Q(claimed_by__in=gone))
        if self.counted_at_start:
            # The attempt was counted when it started: the next claim gives up if it was the last.
            return lost.update(claimed_at=None, claimed_by="")
        error = self.interrupted.format(attempts=self.attempts_allowed())
        gave_up = lost.filter(attempts__gte=self.attempts_allowed() - 1).update(
            state=self.failed,
            attempts=F("attempts") + 1,
            claimed_at=None,
            claimed_by="",
            **{self.error_field: error},
        )
        retried = lost.update(
            state=self.pending,
            attempts=F("attempts") + 1,
            claimed_at=None,
            claimed_by="",
            **{self.error_field: error + " Retried."},
            **({self.due_field: now} if self.due_field else {}),
        )
        return gave_up + retried

    # -- delivering --------------------------------------------------------------------------

    def deliver_due(self, *, now: datetime | None = None, limit: int | None = None) -> int:
        """Recover lost claims, claim a batch and run the handler on each row; how many."""
        now = now or timezone.now()
        self.recover(now=now)
        ids = self.claim(now=now, limit=limit or self.batch)
        if not ids:
            return 0
        rows = self.objects.filter(pk__in=ids).select_related(*self.select_related)
        with self._handler() as handle:
            for row in rows.order_by("pk"):
                self.process(row, handle=handle, now=now)
        return len(ids)

    @contextmanager
    def _handler(self) -> Iterator[Handler[M]]:
        if self.session is not None:
            with self.session() as handle:
                yield handle
        elif self.handler is not None:
            yield self.handler
        else:
            raise TypeError(f"queue {self.name!r} has neither a handler nor a session")

    def process(self, row: M, *, handle: Handler[M], now: datetime) -> None:
        """One claimed row: re-stamp, work, record; a row no longer ours is left alone."""
        if not self.restamp(row.pk, claimed_at=getattr(row, "claimed_at", None), now=now):
            return
        if self.counted_at_start:  # the re-stamp counted this attempt
            setattr(row, "attempts", int(getattr(row, "attempts", 0)) + 1)  # noqa: B010
        try:
            outcome = handle(row)
        except Exception as exc:  # noqa: BLE001 - a bug in one row must not stop the others
            logger.exception("%s: row %s failed", self.name, row.pk)
            outcome = Outcome.retry(f"{type(exc).__name__}: {exc}")
        self.record(row, outcome)

    def record(self, row: M, outcome: Outcome) -> bool:
        """Store what the handler said; False when the row was not ours any more."""
        attempts = int(getattr(row, "attempts", 0)) + (0 if self.counted_at_start else 1)
        if outcome.kind == "done":
            finished = self.finish(row.pk, **outcome.fields)
            if finished and self.on_done is not None:
                self.on_done(row, attempts)
            return finished
        retry = None
        if outcome.kind == "retry":
            retry = outcome.after
            if retry is None and self.backoff is not None:
                retry = self.backoff.after(attempts)
        return self.fail(row, attempts=attempts, error=outcome.error, retry=retry, **outcome.fields)

    def finish(self, pk: Any, **fields: Any) -> bool:
        """The row's work is done: the done state, with `fields`, its claim released."""
        if not self.counted_at_start:
            fields.setdefault("attempts", F("attempts") + 1)
        return bool(
            self.objects.filter(pk=pk, state=self.claimed).update(
                state=self.done, claimed_at=None, claimed_by="", **fields
            )
        )

    def fail(
        self, row: M, *, attempts: int, error: str, retry: timedelta | None, **fields: Any
    ) -> bool:
        """A failed attempt: pending again after `retry`, or failed for good (no `retry`, or
        the last attempt); False when the row was not ours any more."""
        give_up = retry is None or attempts >= self.attempts_allowed()
        logger.warning(
            "%s: row %s failed (attempt %s)%s: %s",
            self.name,
            row.pk,
            attempts,
            "; giving up" if give_up else "",
            error,
        )
        now = timezone.now()
        if self.due_field:
            fields[self.due_field] = now if give_up or retry is None else now + retry
        done = self.objects.filter(pk=row.pk, state=self.claimed).update(
            state=self.failed if give_up else self.pending,
            attempts=attempts,
            claimed_at=None,
            claimed_by="",
            **{self.error_field: error[:ERROR_MAX]},
            **fields,
        )
        if done and give_up and self.on_given_up is not None:
            self.on_given_up(row, attempts, error)
        return bool(done)

    def give_up(self, pk: Any, *, error: str, **fields: Any) -> bool:
        """Fail (or quarantine) a claimed row at once, whatever its attempts; False when it
        was not ours any more."""
        return bool(
            self.objects.filter(pk=pk, state=self.claimed).update(
                state=self.failed,
                claimed_at=None,
                claimed_by="",
                **{self.error_field: error[:ERROR_MAX]},
                **fields,
            )
        )

    # -- the admin's retry -------------------------------------------------------------------

    def retry(self, *, ids: Iterable[Any]) -> int:
        """Give failed rows a fresh set of attempts (woken after commit); how many."""
        with transaction.atomic():
            rows = self.objects.filter(pk__in=list(ids), state=self.failed)
            if self.retry_exclude is not None:
                rows = rows.exclude(self.retry_exclude)
            fields: dict[str, Any] = {"claimed_at": None, "claimed_by": "", **self.retry_fields}
            if self.due_field:
                fields[self.due_field] = timezone.now()
            count = rows.update(state=self.pending, attempts=0, **fields)
            if count:
                transaction.on_commit(self.wake, robust=True)
        return count


# -- the registry ----------------------------------------------------------------------------

_queues: dict[str, Queue[Any]] = {}
_discovered = False


def register(queue: Queue[M]) -> Queue[M]:
    """Make `queue` one of those `recover_abandoned` and `wake_all` look after; returns it."""
    _queues[queue.name] = queue
    return queue


def queues() -> list[Queue[Any]]:
    """Every registered queue, once each installed app's `tasks` module is imported (that is
    where a queue's task lives, and it imports the queue's description)."""
    global _discovered  # noqa: PLW0603 - discovered once per process
    if not _discovered:
        autodiscover_modules("tasks")
        _discovered = True
    return sorted(_queues.values(), key=lambda queue: queue.name)


def wake_queue(name: str) -> None:
    """Wake the task of the queue registered as `name`: for code that writes a queue's rows
    but sits below the module that describes it (routing.paging under routing.delivery)."""
    found = _queues.get(name) or next((q for q in queues() if q.name == name), None)
    if found is None:
        raise LookupError(f"no queue is registered as {name!r}")
    found.wake()


def recover_abandoned(*, now: datetime | None = None) -> int:
    """In every queue, give back the claims whose holder is gone or that timed out, and wake
    the queues that got rows back; how many claims."""
    total = 0
    for queue in queues():
        recovered = queue.recover(now=now)
        if recovered:
            logger.info(
                "%s: %d claim(s) given back (holder gone or timed out)", queue.name, recovered
            )
            queue.wake()
        total += recovered
    return total


def wake_all() -> None:
    """Wake every queue's task (a fresh worker drains what waits instead of waiting)."""
    for queue in queues():
        queue.wake()


# -- the admin -----------------------------------------------------------------------------------


class RetryPermission:
    """For a ModelAdmin with a `retry_action`: retrying is a change, so it needs the model's
    change permission (the rows themselves are never edited in the admin)."""

    opts: Options[Any]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return bool(request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"))


def retry_action(
    queue: Queue[Any],
    *,
    description: str,
    message: Callable[[int, int], str],
    name: str = "retry_failed",
    retry: Callable[..., int] | None = None,
) -> Callable[[Any, HttpRequest, QuerySet[Any]], None]:
    """The admin action that retries the selected failed rows (`queue.retry`, or `retry`);
    `message(count, left)` says how many were queued and how many were not failed."""

    def action(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = (retry or queue.retry)(ids=ids)
        modeladmin.message_user(request, message(count, len(ids) - count), messages.SUCCESS)

    action.__name__ = action.__qualname__ = name
    return admin.action(description=description, permissions=["retry"])(action)
