"""Fault injection: mail keeps arriving while the listener and the workers are SIGKILLed.

1,000 messages (INBOX_FAULT_MESSAGES changes the count) are sent with smtplib into
`supporthub smtp-listen`, each retried on a 451 or a dropped connection as a real MTA would,
while two `supporthub inbox process` workers turn them into tickets with the real
mail_to_ticket. At random moments one of the three processes is killed with SIGKILL and
started again. In the end every message must be stored once and processed once: one ticket
or one reply each, and one acknowledgement per ticket.
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
from pathlib import Path

import pytest

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
            "worker-1": [*run, "inbox", "process", "--interval", "0.05", "--limit", "20"],
            "worker-2": [*run, "inbox", "process", "--interval", "0.05", "--limit", "20"],
        }
        self.port = port
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.started: dict[str, float] = {}
        self.kills: Counter[str] = Counter()

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

    def kill(self, name: str) -> None:
        process = self.running[name]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.kills[name] += 1
        self.start(name)

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


# Slow by design (about 30-60 s): it is the proof that a crash loses and repeats nothing.
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
    env = product_env(tmp_path, INBOX_CLAIM_SECONDS="1", INBOX_MAX_ATTEMPTS="10")
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
    threads = [
        threading.Thread(target=sender, args=(numbers[i::SENDERS],), daemon=True)
        for i in range(SENDERS)
    ]
    try:
        for thread in threads:
            thread.start()
        # Kill something every 0.2-1 s while mail arrives: a worker four times in five, else
        # the listener, once it answers again (a process takes a second or two to start here).
        while any(thread.is_alive() for thread in threads):
            time.sleep(chance.uniform(0.2, 1.0))
            victim = chance.choice(["worker-1", "worker-2"] * 2 + ["listener"])
            if sum(processes.kills.values()) == 1:
                victim = "listener"  # at least once in every run
            if victim == "listener" and not processes.serving():
                continue
            processes.kill(victim)
        for thread in threads:
            thread.join()
        assert not errors, f"a sender failed (seed {seed}): {errors[0]!r}"
        # The workers drain what is left; kill one more time mid-drain for good measure.
        processes.kill("worker-1")
        while InboundMessage.objects.filter(state=InboundState.STORED).exists():
            if time.monotonic() > deadline:
                pytest.fail(f"the inbox was not drained (seed {seed}):\n{processes.log_tail()}")
            time.sleep(0.2)
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
