"""Tenant isolation: every page URL and every API operation, for every role, aimed at an
object of another organisation, gets 403 or 404 and changes nothing.

The URLs are not listed by hand: they are read from the URL resolver (the Hub and the
console) and from the OpenAPI document (the API), so a new route is in the matrix the
moment it exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from supporthub.access import viewer_for
from supporthub.api.services import api_token_create
from supporthub.customers.models import OrganisationMember
from supporthub.customers.services import support_contact_retire
from supporthub.staff.models import Role
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket
from supporthub.testing.world import World
from supporthub.tickets import services
from supporthub.tickets.models import AuditEntry, Channel, Message, Ticket

PASSWORD = "pw-for-tests"
# Route parameters and the object of the other organisation each one takes.
PARAMETERS = {"pk", "ticket_id", "id", "attachment_id", "message_id"}


@dataclass
class Scene:
    world: World
    own: Ticket  # Initech's
    theirs: Ticket  # Globex's
    own_attachment: int
    their_attachment: int
    their_message: int


def _make_scene(world: World) -> Scene:
    alice = viewer_for(world.alice.user)
    assert alice is not None
    tickets = []
    attachments = []
    for organisation, contact in (
        (world.organisation, world.carol),
        (world.other_organisation, world.olga),
    ):
        ticket = open_ticket(
            organisation=organisation,
            requester=contact,
            subject=f"{organisation.name} ticket",
            body="body",
            severity=3,
            channel=Channel.HUB,
        )
        message = services.ticket_reply(
            ticket=ticket,
            viewer=alice,
            body="public",
            uploads=[SimpleUploadedFile("log.txt", b"log", "text/plain")],
        )
        services.ticket_reply(ticket=ticket, viewer=alice, body="note", internal=True)
        tickets.append(ticket)
        attachments.append(message.attachments.get().pk)
    their_message = Message.objects.filter(ticket=tickets[1]).first()
    assert their_message is not None
    return Scene(world, tickets[0], tickets[1], attachments[0], attachments[1], their_message.pk)


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _roles(world: World) -> dict[str, tuple[Client, dict[str, str]]]:
    """Every kind of caller that belongs to Initech (or serves only Initech)."""
    member = OrganisationMember.objects.create(
        organisation=world.organisation,
        user=User.objects.create_user("mo", password=PASSWORD),
        name="Mo",
    )
    retired = f.add_contact(
        world.organisation, "Rita", user=User.objects.create_user("rita", password=PASSWORD)
    )
    support_contact_retire(contact=retired)
    _, org_token = api_token_create(name="Initech CRM", organisation=world.organisation)
    _, amy_token = api_token_create(name="Amy's sync", staff_user=world.amy.user)
    # Staff who serve Initech only, by role: its project manager, and colleagues with no
    # organisation of their own (a sales rep, an enhancement committee member).
    pat = f.staff(user__username="pat", role_codes=[Role.PROJECT_MANAGER])
    world.organisation.project_manager = pat
    world.organisation.save(update_fields=["project_manager"])
    sam = f.staff(user__username="sam", role_codes=[Role.SALES_REP])
    cora = f.staff(user__username="cora", role_codes=[Role.ENHANCEMENT_COMMITTEE])
    assert world.carol.user is not None
    return {
        "support contact": (_client_for(world.carol.user), {}),
        "read-only member": (_client_for(member.user), {}),
        "retired contact": (_client_for(retired.user), {}),  # type: ignore[arg-type]
        "account manager of another organisation": (_client_for(world.amy.user), {}),
        "project manager of another organisation": (_client_for(pat.user), {}),
        "sales rep": (_client_for(sam.user), {}),
        "enhancement committee member": (_client_for(cora.user), {}),
        "organisation API token": (Client(), {"HTTP_AUTHORIZATION": f"Bearer {org_token}"}),
        "account manager's API token": (
            Client(),
            {"HTTP_AUTHORIZATION": f"Bearer {amy_token}"},
        ),
    }


def _page_routes() -> Iterator[tuple[str, str]]:
    """(namespace:name, route) of every Hub and console URL that takes an object id."""

    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[tuple[str, str]]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(
                    entry.url_patterns,
                    prefix + str(entry.pattern),
                    entry.namespace or namespace,
                )
            elif isinstance(entry, URLPattern) and namespace in ("portal", "console"):
                yield f"{namespace}:{entry.name}", prefix + str(entry.pattern)

    for name, route in walk(get_resolver().url_patterns, "", ""):
        if set(re.findall(r"<(?:\w+:)?(\w+)>", route)) & PARAMETERS:
            yield name, route


def _fill(route: str, scene: Scene, *, mixed: bool = False) -> str:
    """The route with the other organisation's ids; `mixed` puts our own ticket as the
    parent and their child object under it (a child must be looked up through its parent)."""
    values = {
        "pk": scene.own.pk if mixed else scene.theirs.pk,
        "ticket_id": scene.own.pk if mixed else scene.theirs.pk,
        "id": scene.own.pk if mixed else scene.theirs.pk,
        "attachment_id": scene.their_attachment,
        "message_id": scene.their_message,
    }
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values.get(m.group(1), "x")), route)
    path = re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), "x")), path)
    return "/" + path.lstrip("^/").rstrip("$")


def _api_operations(client: Client) -> Iterator[tuple[str, str]]:
    schema = client.get("/api/openapi.json").json()
    for path, operations in schema["paths"].items():
        if not set(re.findall(r"\{(\w+)\}", path)) & PARAMETERS:
            continue
        for method in operations:
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path


def _state(ticket: Ticket) -> tuple[int, int, int, int]:
    ticket.refresh_from_db()
    return (
        ticket.version,
        ticket.messages.count(),
        ticket.attachments.count(),
        AuditEntry.objects.filter(ticket=ticket).count(),
    )


def _call(client: Client, method: str, url: str, headers: dict[str, str]) -> int:
    """One cell: the request a real caller would send, with a body that would pass
    validation, so the answer comes from the access rules and not from a 422."""
    kwargs: dict[str, Any] = {**headers}
    if method == "GET":
        return client.get(url, **kwargs).status_code
    if "/api/" not in url:
        form = {"body": "sneaky", "subject": "x", "reason": "x", "status": "solved"}
        return client.post(url, form, **kwargs).status_code
    if url.endswith("/attachments"):
        upload = SimpleUploadedFile("x.txt", b"sneaky", "text/plain")
        return client.post(url, {"file": upload}, **kwargs).status_code
    body: dict[str, Any] = {"body": "sneaky"} if url.endswith("/messages") else {"status": "solved"}
    return client.generic(
        method,
        url,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_IF_MATCH='"1"',
        **kwargs,
    ).status_code


@pytest.mark.django_db
def test_every_page_and_api_operation_refuses_another_organisations_objects(
    world: World,
) -> None:
    scene = _make_scene(world)
    roles = _roles(world)
    routes = sorted(set(_page_routes()))
    operations = sorted(set(_api_operations(Client())))
    assert len(routes) >= 5, routes  # the Hub's and the console's ticket pages and actions
    assert len(operations) >= 6, operations  # tickets, messages, attachments
    before = _state(scene.theirs)
    cells = 0
    failures = []
    for role, (client, headers) in roles.items():
        api_only = bool(headers)
        cases: list[tuple[str, str]] = []
        for method, path in operations:
            cases.append((method, _fill(path.removeprefix("/"), scene)))
            if "attachment_id" in path or "message_id" in path:
                cases.append((method, _fill(path.removeprefix("/"), scene, mixed=True)))
        if not api_only:
            for _, route in routes:
                for method in ("GET", "POST"):
                    cases.append((method, _fill(route, scene)))
                    if "attachment_id" in route:
                        cases.append((method, _fill(route, scene, mixed=True)))
        for method, url in cases:
            status = _call(client, method, url, headers)
            cells += 1
            if status == 405:
                continue  # the route does not serve this method at all: nothing to reach
            if status not in (403, 404):
                failures.append(f"{role}: {method} {url} -> {status}")
    assert not failures, "\n".join(failures)
    assert cells >= 60
    assert _state(scene.theirs) == before


@pytest.mark.django_db
def test_the_matrix_can_fail_own_objects_are_reachable(world: World) -> None:
    """The same URLs with the caller's own ids do answer: the matrix is not all-404 by
    accident (a wrong route template would make every cell 404)."""
    scene = _make_scene(world)
    assert world.carol.user is not None
    carol = _client_for(world.carol.user)
    reachable = 0
    for name, route in _page_routes():
        if not name.startswith("portal:"):
            continue
        url = re.sub(
            r"<(?:\w+:)?(\w+)>",
            lambda m: str(scene.own_attachment if m.group(1) == "attachment_id" else scene.own.pk),
            route,
        )
        if carol.get("/" + url).status_code == 200:
            reachable += 1
    assert reachable >= 2  # the ticket page and the attachment download


def _list_routes() -> Iterator[str]:
    """Every page of the Hub and the console that takes no object id (the lists, the
    reports, the queues), and the staff overview."""

    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[str]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(
                    entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace
                )
            elif isinstance(entry, URLPattern) and namespace in ("portal", "console", "web"):
                route = prefix + str(entry.pattern)
                if not re.search(r"<(?:\w+:)?(\w+)>", route):
                    yield "/" + route
                elif re.fullmatch(r".*<slug:name>/", route):  # the named queues
                    for name in ("all", "mine", "region", "breaching", "escalated"):
                        yield "/" + re.sub(r"<slug:name>", name, route)

    yield from sorted(set(walk(get_resolver().url_patterns, "", "")))


def _running(world: World) -> Ticket:
    """A ticket of the other organisation whose first-response clock runs (the overview
    lists only those)."""
    return open_ticket(
        organisation=world.other_organisation,
        requester=world.olga,
        subject="Globex running clock",
        body="body",
        severity=3,
        channel=Channel.HUB,
    )


@pytest.mark.django_db
def test_no_list_page_shows_another_organisations_ticket(world: World) -> None:
    scene = _make_scene(world)
    running = _running(world)
    roles = _roles(world)
    routes = [r for r in _list_routes() if r not in ("/logout/", "/healthz")]
    assert "/" in routes and "/console/" in routes and "/hub/" in routes, routes
    leaks = []
    cells = 0
    for role, (client, headers) in roles.items():
        urls = ["/api/tickets"] if headers else [*routes, "/api/tickets"]
        for url in urls:
            kwargs: dict[str, Any] = {**headers}
            response = client.get(url, **kwargs)
            cells += 1
            text = response.content.decode(errors="replace")
            if any(t.reference in text or t.subject in text for t in (scene.theirs, running)):
                leaks.append(f"{role}: GET {url} -> {response.status_code} shows it")
    assert not leaks, "\n".join(leaks)
    assert cells >= 40


@pytest.mark.django_db
def test_the_list_matrix_can_fail_staff_who_see_everything_see_it(world: World) -> None:
    scene = _make_scene(world)
    running = _running(world)
    assert world.alice.user is not None
    alice = _client_for(world.alice.user)
    assert running.reference in alice.get("/").content.decode()
    queue = alice.get("/console/").content.decode()
    assert scene.theirs.reference in queue and scene.own.reference in queue
