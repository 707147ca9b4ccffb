"""DKIM in the product itself (INBOUND_MAIL_VERIFY_DKIM=true), for a deployment whose mail
server writes no Authentication-Results we can trust: the From address of a Support Contact's
mail counts as proven when a DKIM signature of the message verifies (dkimpy) and its signing
domain (d=) is aligned with the From domain, as DMARC's relaxed alignment asks.

SPF is not checked here: the message's envelope and connecting address are not what a
stored message keeps, and DKIM is what survives forwarding. Keys come from DNS (dkimpy's
own lookup, through dnspython); tests hand in a function that serves test keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dkim

# dkimpy's DNS interface: a name (b"s1._domainkey.example.com.") -> its TXT record, or None.
DnsTxt = Callable[..., bytes | None]
MAX_SIGNATURES = 5  # a message carrying more is not worth more DNS lookups


@dataclass(frozen=True)
class DkimResult:
    """What the signatures said: `aligned` is the passing aligned d= ("" when none)."""

    aligned: str
    results: tuple[str, ...]  # "d=example.com pass", "d=x.example fail (body hash)", ...

    @property
    def passed(self) -> bool:
        return bool(self.aligned)


def aligned(domain: str, other: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other."""
    domain = domain.strip(". ").lower()
    other = other.rpartition("@")[2].strip(". ").lower()
    return bool(other) and (
        domain == other or domain.endswith("." + other) or other.endswith("." + domain)
    )


def dns_txt(name: bytes, timeout: int = 5) -> bytes | None:
    """The TXT record at `name`, through dkimpy's resolver (dnspython)."""
    found: bytes | None = dkim.dnsplug.get_txt(name, timeout=timeout)
    return found


def dkim_verify(raw: bytes, from_domain: str, *, dns: DnsTxt | None = None) -> DkimResult:
    """Verify the message's DKIM signatures (topmost first, at most MAX_SIGNATURES) until one
    passes whose d= is aligned with `from_domain`; never raises for a bad message or key."""
    lookup = dns or dns_txt
    try:
        checker = dkim.DKIM(raw, minkey=1024)
    except dkim.DKIMException as exc:  # headers dkimpy cannot read: nothing verifies
        return DkimResult(aligned="", results=(f"unreadable for DKIM ({exc})",))
    count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    results = []
    for idx in range(min(count, MAX_SIGNATURES)):
        try:
            ok = checker.verify(idx=idx, dnsfunc=lookup)
            why = "" if ok else " (the signature does not match the message)"
        except dkim.DKIMException as exc:
            ok, why = False, f" ({exc})"
        signer = (checker.domain or b"").decode("ascii", "replace").lower()
        results.append(f"d={signer or '?'} {'pass' if ok else 'fail'}{why}")
        if ok and aligned(from_domain, signer):
            return DkimResult(aligned=signer, results=tuple(results))
    return DkimResult(aligned="", results=tuple(results))
