"""Fault injection: mail keeps arriving while the listener and the workers are SIGKILLed.

1,000 messages (INBOX_FAULT_MESSAGES changes the count) are sent with smtplib into
`supporthub smtp-listen`, each retried on a 451 or a dropped connection as a real MTA would,
while two `supporthub worker` processes (each with its db_worker child) turn them into tickets
with the real mail_to_ticket. At random moments one of the three processes is killed with
SIGKILL and started again. In the end every message must be stored once and processed once:
one ticket or one reply each, and one acknowledgement per ticket.

The supervision is measured on the way: a SIGKILLed worker's children are gone within
CHILD_GONE_WITHIN; the mail it had claimed is taken again (processed, or claimed by a live
worker) within RECOVERED_WITHIN when no other kill follows, not after INBOX_CLAIM_SECONDS;
and restarted workers take the mail stored while none ran at once, not after the
reconciler's minute. The figures are printed; kills under fire (every second or so, mostly
of workers still starting) are printed but not bounded: there the chaos sets the times.
"""

from __future__ import annotations

import os
import random
import re
import signal
import smtplib
import socket
import subprocess  # noqa: S404
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import models
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from supporthub.intake.email.models import InboundMessage, InboundState
from supporthub.intake.email.outcome import Disposition
from supporthub.intake.email.tests.servers import free_port, product_env
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.testing.world import World
from supporthub.tickets.models import Message, Ticket

MESSAGES = int(os.environ.get("INBOX_FAULT_MESSAGES", "1000"))
SENDERS = 4
DEADLINE = 240.0  # seconds: a hung run fails instead of hanging CI
TOKEN = re.compile(rb"Token T(\d+)\.")
CLAIM_SECONDS = 120  # the product's default: recovery must not wait for it
CHILD_GONE_WITHIN = 3.0  # seconds from a worker's SIGKILL to its children's end
RECOVERED_WITHIN = 10.0  # seconds from a worker's SIGKILL to its mail being taken again
COLD = 20  # messages stored while no worker runs, their wake-ups lost
# Seconds from the workers' start to their taking that mail: the start of two processes each
# (a few seconds; over 30 on a machine at a load of 10), well short of the reconciler's 60.
COLD_START_WITHIN = 45.0
WORKERS = ("worker-1", "worker-2")


def _parents() -> dict[int, int]:
    """Every process's parent, from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if fields[0] not in ("Z", "X"):
            found[int(stat.parent.name)] = int(fields[1])
    return found


def _descendants(pid: int) -> set[int]:
    parents = _parents()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has ended)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rfind(")") + 2 :].split()[0] not in ("Z", "X")


@dataclass
class Abandoned:
    """The mail a killed worker held, and how long after the kill it was let go (claimed by
    the dead no more), taken again (each processed or claimed by a live worker) and
    processed."""

    killed_at: float
    ids: set[int]
    holders: list[str]
    released: float | None = None
    taken: float | None = None
    processed: float | None = None
    quiet: bool = False  # no other kill until its mail is processed: that time is bounded


@dataclass
class Supervision:
    orphans: list[float] = field(default_factory=list)  # seconds to each child's end
    abandoned: list[Abandoned] = field(default_factory=list)
    leftovers: set[int] = field(default_factory=set)  # children that outlived the bound


def _mail(number: int, sender: str) -> bytes:
    """Message `number`: every 20th has no Message-ID; every 7th replies to an earlier one."""
    headers = [f"From: Carol <{sender}>", "To: support@supporthub.example"]
    if number % 7 == 3 and number > 10:
        parent = number - 10 if (number - 10) % 20 else number - 9
        headers += [
            f"Subject: Re: Fault test #{parent}",
            f"In-Reply-To: <fault-{parent}@initech.example>",
        ]
    else:
        headers.append(f"Subject: Fault test #{number}")
    if number % 20:
        headers.append(f"Message-ID: <fault-{number}@initech.example>")
    headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(headers) + f"\r\n\r\nToken T{number}. Exports fail again.\r\n").encode()


class Processes:
    """The listener and the workers, each restarted after it is killed."""

    def __init__(self, env: dict[str, str], port: int, logs: Path) -> None:
        self.env = env
        self.logs = logs
        run = [sys.executable, "-m", "supporthub"]
        self.commands = {
            "listener": [*run, "smtp-listen", "--host", "127.0.0.1", "--port", str(port)],
            "worker-1": [*run, "worker"],
            "worker-2": [*run, "worker"],
        }
        self.port = port
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.started: dict[str, float] = {}
        self.kills: Counter[str] = Counter()
        self.supervision = Supervision()
        self.host = socket.gethostname()

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(  # noqa: S603
            self.commands[name], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.started[name] = time.monotonic()

    def serving(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                return sock.recv(3) == b"220"
        except OSError:
            return False

    def kill(self, name: str, *, restart: bool = True, quiet: bool = False) -> None:
        """SIGKILL `name` (no handler of its own runs); see its children end with it and
        note the mail it held, then start it again."""
        process = self.running[name]
        family = {process.pid, *_descendants(process.pid)}
        process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        process.wait()
        self.kills[name] += 1
        for child in family - {process.pid}:
            while _alive(child) and time.monotonic() - killed_at < CHILD_GONE_WITHIN:
                time.sleep(0.01)
            if _alive(child):
                self.supervision.leftovers.add(child)
            else:
                self.supervision.orphans.append(time.monotonic() - killed_at)
        if name in WORKERS:
            holders = [f"{self.host}:{pid}:" for pid in sorted(family)]
            ids = set(self._held(holders).values_list("pk", flat=True))
            if ids:
                self.supervision.abandoned.append(Abandoned(killed_at, ids, holders, quiet=quiet))
        if restart:
            self.start(name)

    @staticmethod
    def _held(holders: list[str]) -> models.QuerySet[InboundMessage]:
        held = models.Q()
        for prefix in holders:
            held |= models.Q(claimed_by__startswith=prefix)
        return InboundMessage.objects.filter(held, state=InboundState.STORED)

    def watch(self, seconds: float) -> None:
        """Wait `seconds`, noting meanwhile when each killed worker's mail was let go, taken
        again and processed."""
        until = time.monotonic() + seconds
        while True:
            for entry in self.supervision.abandoned:
                if entry.processed is not None:
                    continue
                now = time.monotonic() - entry.killed_at
                left = InboundMessage.objects.filter(pk__in=entry.ids, state=InboundState.STORED)
                if entry.released is None and not self._held(entry.holders).exists():
                    entry.released = now
                if entry.released is not None and entry.taken is None:
                    if not left.filter(claimed_by="").exists():
                        entry.taken = now
                if entry.taken is not None and not left.exists():
                    entry.processed = now
            rest = until - time.monotonic()
            if rest <= 0:
                return
            time.sleep(min(0.1, rest))

    def holding(self, name: str) -> bool:
        """Whether worker `name` (or its child) holds claimed mail now."""
        pid = self.running[name].pid
        holders = [f"{self.host}:{other}:" for other in {pid, *_descendants(pid)}]
        return self._held(holders).exists()

    def has_child(self, name: str) -> bool:
        return bool(_descendants(self.running[name].pid))

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in self.supervision.leftovers:  # a failed run leaves no orphan behind either
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:])
            for path in sorted(self.logs.glob("*.log"))
        )


def _send_all(port: int, numbers: list[int], sender: str, deadline: float) -> tuple[int, int]:
    """Send each message until a 250 (as an MTA: retry on 4xx and dropped connections)."""
    accepted = retries = 0
    client: smtplib.SMTP | None = None
    for number in numbers:
        raw = _mail(number, sender)
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"message {number} still not accepted at the deadline")
            try:
                if client is None:
                    client = smtplib.SMTP("127.0.0.1", port, timeout=10)
                client.sendmail(sender, ["support@supporthub.example"], raw)
                accepted += 1
                break
            except (smtplib.SMTPException, OSError) as exc:
                if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500:
                    raise  # a 5xx would make a real MTA bounce the message: never acceptable
                retries += 1
                if client is not None:
                    try:
                        client.close()
                    except OSError:
                        pass
                client = None
                time.sleep(0.05)
    if client is not None:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            pass
    return accepted, retries


# Slow by design (a minute or two: each worker is two processes to start): it is the proof
# that a crash loses and repeats nothing.
@pytest.mark.django_db(transaction=True)
def test_sigkilling_the_listener_and_workers_at_random_loses_and_duplicates_nothing(
    world: World, tmp_path: Path
) -> None:
    seed = int(os.environ.get("INBOX_FAULT_SEED", random.randrange(1_000_000)))  # noqa: S311
    chance = random.Random(seed)  # noqa: S311
    port = free_port()
    # A worker killed every second or so, and restarted cold each time, now and then dies on
    # the same message three times (a new worker's first message is its slowest, and the
    # message it died on is the first the next one takes): the product then quarantines it as
    # a message that keeps killing workers (test_process covers that). Here the kills are not
    # the message's doing, so they may interrupt it up to 10 times before that happens.
    # The claim keeps the product's 120 s: a dead worker's claims are given back because
    # their holder is gone, long before they would lapse.
    env = product_env(tmp_path, INBOX_CLAIM_SECONDS=str(CLAIM_SECONDS), INBOX_MAX_ATTEMPTS="10")
    processes = Processes(env, port, tmp_path)
    started = time.monotonic()
    deadline = started + DEADLINE
    for name in processes.commands:
        processes.start(name)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def sender(numbers: list[int]) -> None:
        try:
            results.append(_send_all(port, numbers, world.carol.email, deadline))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    numbers = list(range(MESSAGES))
    cold, numbers = numbers[:COLD], numbers[COLD:]
    threads = [
        threading.Thread(target=sender, args=(numbers[i::SENDERS],), daemon=True)
        for i in range(SENDERS)
    ]
    stored = InboundMessage.objects.filter(state=InboundState.STORED)
    cold_start: float | None = None
    cold_wakes: dict[str, float | None] = {}
    try:
        # First the workers are killed, and mail arrives while none runs; its wake-ups are
        # lost with them (a db_worker killed after taking one leaves it RUNNING, never to be
        # taken again). Started again, they take that mail at once, not after a minute (the
        # reconciler's); the one that took it is killed, and no kill follows until that mail
        # is processed: it is taken again within RECOVERED_WITHIN.
        while not (processes.serving() and all(map(processes.has_child, WORKERS))):
            if time.monotonic() > deadline:
                pytest.fail(f"the processes did not start:\n{processes.log_tail()}")
            time.sleep(0.1)
        for name in WORKERS:
            processes.kill(name, restart=False)
        results.append(_send_all(port, cold, world.carol.email, deadline))
        for _ in range(2):  # the listener's last wake-up may still be on its way
            time.sleep(1.0)
            DBTaskResult.objects.filter(status=TaskResultStatus.READY).update(
                status=TaskResultStatus.RUNNING, started_at=timezone.now(), worker_ids=["gone"]
            )
        restarted, restarted_at = time.monotonic(), timezone.now()
        for name in WORKERS:
            processes.start(name)
        while time.monotonic() - restarted < 90:  # past the reconciler, to measure it
            taken = stored.filter(claimed_by__gt="").exists() or stored.count() < COLD
            if taken:
                cold_start = time.monotonic() - restarted
                break
            time.sleep(0.01)
        # Where the time went: the workers' own wake-ups, enqueued once each had started
        # its child, and taken once a child was up.
        woken = DBTaskResult.objects.filter(enqueued_at__gte=restarted_at).aggregate(
            enqueued=models.Min("enqueued_at"), taken=models.Min("started_at")
        )
        cold_wakes = {
            what: None if at is None else round((at - restarted_at).total_seconds(), 2)
            for what, at in woken.items()
        }
        holder = next((name for name in WORKERS if processes.holding(name)), None)
        if holder is not None:
            processes.kill(holder, quiet=True)
        while stored.exists() and time.monotonic() - restarted < 90:
            processes.watch(0.1)
        processes.watch(0)

        for thread in threads:
            thread.start()
        # Kill something every 0.2-1 s while mail arrives: a worker four times in five, else
        # the listener, once it answers again (a process takes a second or two to start here),
        # a worker once it has started its child (killed sooner, it would only ever start).
        while any(thread.is_alive() for thread in threads):
            processes.watch(chance.uniform(0.2, 1.0))
            victim = chance.choice(["worker-1", "worker-2"] * 2 + ["listener"])
            if processes.kills["listener"] == 0 and processes.kills.total() >= 3:
                victim = "listener"  # at least once in every run
            if victim == "listener" and not processes.serving():
                continue
            if victim in WORKERS and not processes.has_child(victim):
                continue
            processes.kill(victim)
        for thread in threads:
            thread.join()
        assert not errors, f"a sender failed (seed {seed}): {errors[0]!r}"
        # The workers drain what is left; kill one more time mid-drain for good measure, once
        # it holds mail (none is killed after it: that mail is taken again within the bound).
        drain_until = time.monotonic() + 30
        while not processes.holding("worker-1") and stored.exists():
            if time.monotonic() > drain_until:
                break
            processes.watch(0.01)
        processes.kill("worker-1", quiet=True)
        while stored.exists():
            if time.monotonic() > deadline:
                pytest.fail(f"the inbox was not drained (seed {seed}):\n{processes.log_tail()}")
            processes.watch(0.2)
        processes.watch(0)
    finally:
        processes.stop_all()
    seconds = time.monotonic() - started

    accepted = sum(a for a, _ in results)
    retries = sum(r for _, r in results)
    stored_per_token = Counter(
        int(match[1])
        for raw in InboundMessage.objects.values_list("raw", flat=True)
        if (match := TOKEN.search(bytes(raw)))
    )
    written = Counter(
        int(match[1])
        for body in [
            *Ticket.objects.values_list("body", flat=True),
            *Message.objects.values_list("body", flat=True),
        ]
        for match in [re.search(r"Token T(\d+)\.", body)]
        if match
    )
    states = Counter(InboundMessage.objects.values_list("state", "disposition"))
    acknowledgements = Counter(
        OutboxMessage.objects.filter(kind=OutboxKind.ACKNOWLEDGED).values_list(
            "ticket_id", flat=True
        )
    )
    lost = [n for n in range(MESSAGES) if stored_per_token[n] == 0 or written[n] == 0]
    duplicated = [n for n in range(MESSAGES) if stored_per_token[n] > 1 or written[n] > 1]
    summary = (
        f"{MESSAGES} messages, {accepted} accepted after {retries} retries, kills "
        f"{dict(processes.kills)} ({sum(processes.kills.values())} in all), lost {len(lost)}, "
        f"duplicated {len(duplicated)}, states {dict(states)}, {seconds:.1f}s, seed {seed}"
    )
    print(f"\nfault injection: {summary}")
    supervision = processes.supervision
    quiet = [entry for entry in supervision.abandoned if entry.quiet]
    under_fire = [entry for entry in supervision.abandoned if not entry.quiet]

    def spread(figures: list[float | None]) -> str:
        known = sorted(f for f in figures if f is not None)
        if not known:
            return "none"
        middle = known[len(known) // 2]
        missing = f", {len(figures) - len(known)} never" if len(known) < len(figures) else ""
        return f"{len(known)}, median {middle:.2f}s, max {known[-1]:.2f}s{missing}"

    def rounded(figures: list[float | None]) -> list[float | None]:
        return [None if f is None else round(f, 2) for f in figures]

    figures = (
        f"children of killed processes ended: {spread(list(supervision.orphans))}, "
        f"outlived {CHILD_GONE_WITHIN:g}s: {sorted(supervision.leftovers)}; restarted workers "
        f"took stored mail after {rounded([cold_start])[0]}s (their wake-ups {cold_wakes}); "
        f"a killed worker's mail, no kill after: {[len(e.ids) for e in quiet]} messages let go "
        f"after {rounded([e.released for e in quiet])}s, taken again after "
        f"{rounded([e.taken for e in quiet])}s, processed after "
        f"{rounded([e.processed for e in quiet])}s; under fire: let go "
        f"{spread([e.released for e in under_fire])}, taken again "
        f"{spread([e.taken for e in under_fire])}; seed {seed}"
    )
    print(f"supervision: {figures}")
    assert accepted == MESSAGES, summary
    assert lost == [] and duplicated == [], f"{summary}: lost {lost[:10]}, dup {duplicated[:10]}"
    assert set(states) <= {
        (InboundState.PROCESSED, Disposition.OPENED),
        (InboundState.PROCESSED, Disposition.ADDED),
    }, summary
    assert sum(states.values()) == MESSAGES, summary
    opened = states[(InboundState.PROCESSED, Disposition.OPENED)]
    assert Ticket.objects.count() == opened, summary
    assert states[(InboundState.PROCESSED, Disposition.ADDED)] > 0, summary  # replies threaded
    assert len(acknowledgements) == opened and set(acknowledgements.values()) == {1}, summary
    # The faults did happen, to the listener and to the workers.
    assert processes.kills["listener"] >= 1 and sum(processes.kills.values()) >= 3, summary
    # Supervised: a SIGKILLed worker's db_worker ends with it (the kernel's death signal).
    assert supervision.orphans and not supervision.leftovers, figures
    # A fresh worker drains what waits at start: not after the reconciler's 60 s.
    assert cold_start is not None and cold_start <= COLD_START_WITHIN, figures
    # A dead worker's claims are given back because their holder is gone, not after
    # INBOX_CLAIM_SECONDS: with no kill in the way, its mail is taken again within the bound.
    assert quiet, f"no killed worker held mail to measure: {figures}"
    assert all(e.taken is not None and e.taken <= RECOVERED_WITHIN for e in quiet), figures
