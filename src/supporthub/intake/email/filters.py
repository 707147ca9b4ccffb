"""What mail to ticket ignores or refuses before anything is written.

Machine mail (our own coming back, bounces, read receipts, auto-replies) is ignored and
nobody answered; a From that is not one usable address, or a Support Contact's address our
MX did not prove, makes the message unprocessable (the inbox quarantines it); mail from
anyone who is not an active Support Contact is refused, its sender told at most once a day
how to get help (through `notify.replies`). The rules, in order, are in `ticketing`.
"""

from __future__ import annotations

from datetime import UTC
from email.utils import parseaddr

from django.conf import settings

from supporthub.customers.models import OrganisationMember, SupportContact
from supporthub.intake.email.models import InboundMessage, Source
from supporthub.intake.email.outcome import Disposition, MailOutcome, MailUnprocessable
from supporthub.intake.email.parsing import ParsedMail, without_reply_prefixes
from supporthub.intake.email.signatures import aligned, dkim_verify
from supporthub.notify.replies import Answered, mail_refusal_enqueue

# Addresses that say they read nothing: refused mail from them is kept but not answered.
NO_REPLY_LOCAL_PARTS = frozenset(
    {"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply"}
)


def answered(mail: ParsedMail) -> Answered:
    """The message an automatic reply to `mail` is threaded under."""
    return Answered(message_id=mail.message_id, references=mail.references)


def _our_address() -> str:
    return parseaddr(settings.SUPPORT_FROM_EMAIL)[1].lower()


def machine_mail(inbound: InboundMessage, mail: ParsedMail) -> str:
    """Why the message must be ignored (a loop, bounce or auto-reply), "" otherwise."""
    domain = settings.REPLY_DOMAIN.lower()
    if "x-supporthub-ticket" in mail.headers:
        return "Ignored: our own X-SupportHub-Ticket header came back (a mail loop)."
    if mail.message_id.lower().endswith(f"@{domain}>"):
        return f"Ignored: the Message-ID {mail.message_id} is one of ours (a mail loop)."
    for address in mail.from_addresses:
        if address == _our_address() or (
            address.endswith(f"@{domain}") and address.startswith("reply+")
        ):
            return f"Ignored: sent from our own address {address} (a mail loop)."
    envelope = inbound.envelope_sender.strip()
    if envelope == "<>" or (not envelope and inbound.source == Source.SMTP):
        return "Ignored: null envelope sender (a bounce or other delivery report)."
    if mail.automatic:
        return f"Ignored: automatic mail ({mail.automatic})."
    return ""


def unproven_sender(mail: ParsedMail, sender: str, *, raw: bytes = b"") -> str:
    """Why the From address is not proven; "" when it is, or when From is trusted.

    With INBOUND_MAIL_VERIFY_DKIM the product verifies the message's own DKIM signatures
    (`raw`, as received). Otherwise only the topmost Authentication-Results stamped with
    INBOUND_MAIL_AUTHSERV_ID counts: our server adds its own above whatever the sender wrote,
    so a forged one below is ignored.
    """
    if settings.INBOUND_MAIL_VERIFY_DKIM:
        domain = sender.rpartition("@")[2]
        result = dkim_verify(raw, domain)
        if result.passed:
            return ""
        said = "; ".join(result.results) or "the message carries no DKIM signature"
        return (
            f"The sender {sender} is not proven: no DKIM signature aligned with {domain} "
            f"verifies ({said})."
        )
    authserv_id = settings.INBOUND_MAIL_AUTHSERV_ID.lower()
    if not authserv_id:
        return ""
    domain = sender.rpartition("@")[2]
    ours = next((h for h in mail.auth_results if h.authserv_id == authserv_id), None)
    if ours is None:
        return f"The sender {sender} is not proven: no Authentication-Results from {authserv_id}."
    for r in ours.results:
        if r.result != "pass":
            continue
        if r.method == "dmarc" and aligned(domain, r.properties.get("header.from", domain)):
            return ""
        if r.method == "dkim" and aligned(
            domain, r.properties.get("header.d") or r.properties.get("header.i", "")
        ):
            return ""
        if r.method == "spf" and aligned(domain, r.properties.get("smtp.mailfrom", "")):
            return ""
    said = ", ".join(f"{r.method}={r.result}" for r in ours.results)
    return (
        f"The sender {sender} is not proven: {authserv_id} found {said or 'no result'} "
        f"(no DMARC pass and no DKIM or SPF pass for {domain})."
    )


def sender_of(mail: ParsedMail) -> str:
    """The one address in From; MailUnprocessable when there is none, or several."""
    if not mail.from_addresses:
        raw = mail.headers.get("from", "")
        shown = f" ({raw[:200]!r})" if raw else ""
        raise MailUnprocessable(f"No usable address in the From header{shown}.")
    if len(mail.from_addresses) > 1:
        raise MailUnprocessable(
            f"The From header names {len(mail.from_addresses)} addresses "
            f"({', '.join(mail.from_addresses)[:300]}); mail to ticket needs one sender."
        )
    return mail.from_addresses[0]


def only_contact(contacts: list[SupportContact], sender: str) -> SupportContact:
    """The sender's one Support Contact; MailUnprocessable for a contact of several
    organisations (a new ticket cannot say which one it is for)."""
    if len(contacts) == 1:
        return contacts[0]
    names = ", ".join(sorted(c.organisation.name for c in contacts))
    raise MailUnprocessable(
        f"{sender} is an active Support Contact of several organisations ({names}); the mail "
        "does not reply to one of their tickets, so it cannot say which organisation it is for."
    )


def refuse(
    inbound: InboundMessage, mail: ParsedMail, sender: str, *, unproven: str = ""
) -> MailOutcome:
    """Not a Support Contact: keep the mail, create nothing, say (once a day) how to get help.

    An unknown address learns nothing about our customers. A retired contact, or someone
    with a read-only Support Hub login (an OrganisationMember), is told which organisation
    they belong to and, for a member, the names of its Support Contacts (their colleagues).
    """
    retired = (
        SupportContact.objects.filter(email__iexact=sender, is_active=False)
        .select_related("organisation")
        .first()
    )
    member = (
        OrganisationMember.objects.filter(user__email__iexact=sender)
        .select_related("organisation")
        .first()
    )
    organisation = (
        retired.organisation if retired is not None else member.organisation if member else None
    )
    colleagues: list[str] = []
    if member is not None:
        colleagues = list(
            SupportContact.objects.filter(organisation=member.organisation, is_active=True)
            .order_by("name")
            .values_list("name", flat=True)
        )
    who = "a retired Support Contact" if retired is not None else "not a Support Contact"
    if member is not None and retired is None:
        who = "a read-only member, not a Support Contact"
    if sender.split("@", 1)[0] in NO_REPLY_LOCAL_PARTS:
        return MailOutcome(
            Disposition.REFUSED,
            f"Refused: {sender} is {who}; not answered (a no-reply address).",
        )
    if unproven:
        # The From may be forged: an answer would go to someone who never wrote.
        return MailOutcome(Disposition.REFUSED, f"Refused: not answered. {unproven}")
    subject = mail.subject or "your email"
    mail_refusal_enqueue(
        answered=answered(mail),
        recipient=sender,
        day=inbound.received_at.astimezone(UTC).date().isoformat(),
        reply_subject=f"Re: {without_reply_prefixes(subject)}",
        name=mail.from_name,
        subject=subject,
        organisation=organisation.name if organisation is not None else "",
        retired=retired is not None,
        member=member is not None,
        colleagues=colleagues,
    )
    return MailOutcome(
        Disposition.REFUSED,
        f"Refused: {sender} is {who}; told (at most once a day) how to reach their "
        "organisation's Support Contacts.",
    )
