"""Reading a stored message: headers, body, attachments and what kind of mail it is.

Pure functions over bytes (no database, no settings): the stdlib `email` package does the
MIME work, `charsets` the decoding; this module only chooses what to keep. Nothing here
raises on bad input: problems are reported in the result for the caller to act on.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from email import errors
from email.header import decode_header, make_header
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import getaddresses

from supporthub.intake.email.charsets import clean, decode_as, decode_text

# Defects after which the parts of a multipart message cannot be told apart: the body read
# from it would be wrong, so it is not read as MIME (see `_structure_problem`).
_STRUCTURAL_DEFECTS = (
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
)
# ... of which these leave the multipart's body as one text, which can still be read.
_BOUNDARY_DEFECTS = (errors.NoBoundaryInMultipartDefect, errors.StartBoundaryNotFoundDefect)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.?[^@\s<>\"]*$")
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|tr|rv|antw|r)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_EML_POLICY = default_policy.clone(linesep="\r\n")
AS_RECEIVED = "message-as-received.eml"


class _RememberingRegistry(HeaderRegistry):
    """The stdlib's header registry, keeping the header objects it built for recent values.

    Under policy.default every `Message.get` builds a structured header object, and the
    parser and our MIME walk ask a part for its Content-Type (and Content-Disposition) many
    times: the same value is parsed once here instead. The objects are immutable and equal
    to what a fresh registry would build; long values are not kept, and the store is
    bounded.
    """

    _KEPT = 512
    _LONGEST = 1000

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: str) -> BaseHeader:
        key = (name, value)
        found = self._built.get(key)
        if found is None:
            found = super().__call__(name, value)
            if len(value) <= self._LONGEST:
                if len(self._built) >= self._KEPT:
                    self._built.clear()
                self._built[key] = found
        return found


# policy.default, with the registry above: what parse() reads is exactly what it reads.
_PARSE_POLICY = default_policy.clone(header_factory=_RememberingRegistry())


@dataclass(frozen=True)
class MailFile:
    """One attachment as received (inline images and forwarded messages included)."""

    filename: str
    content_type: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class AuthResult:
    """One method's result in an Authentication-Results header (RFC 8601), lower-cased."""

    method: str  # dkim, spf, dmarc, ...
    result: str  # pass, fail, softfail, none, ...
    properties: dict[str, str] = field(default_factory=dict)  # header.d, smtp.mailfrom ...


@dataclass(frozen=True)
class AuthHeader:
    """One Authentication-Results header: who checked, and what they found."""

    authserv_id: str  # e.g. mx1.example.com, lower-cased
    results: tuple[AuthResult, ...]


@dataclass(frozen=True)
class ParsedMail:
    """What mail to ticket needs from a message; strings are always valid Unicode, NUL-free."""

    message_id: str
    from_addresses: tuple[str, ...]  # addr-specs, lower-cased
    from_name: str
    subject: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    recipients: tuple[str, ...]  # To, Cc, Delivered-To, X-Original-To: addr-specs, lower-cased
    text: str
    html: str
    files: tuple[MailFile, ...]
    automatic: str  # why this is an auto-reply or bounce, "" for mail written by a person
    structure_problem: str  # why the MIME structure cannot be read, "" when it can
    # The structure cannot be read but its text can, as it stands (a multipart whose boundary
    # never appears): `text` is that, and the message itself is the first file (AS_RECEIVED).
    read_as_text: bool = False
    # ("text" | "html", content) in order when HTML content stands beside the text (see
    # _sections); () when `text`, else `html`, is the whole body.
    sections: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default=())  # repairs made on the way (unknown charsets...)
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased name: first value
    # Authentication-Results, topmost header first (the receiving server's own comes first).
    auth_results: tuple[AuthHeader, ...] = ()

    @property
    def from_address(self) -> str:
        return self.from_addresses[0] if len(self.from_addresses) == 1 else ""


def first_raw(msg: Message, name: str) -> str | None:
    """The first `name` header as received (raw 8-bit bytes as surrogates), None if absent."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _decode_raw(value: str, charset: str | None = None) -> str:
    value = clean(value, charset)
    if "=?" not in value:
        return value  # no encoded word: decode_header and make_header give it back as is
    try:
        # Each encoded word read as its label's superset (decode_as), then joined with the
        # stdlib's white-space rules (make_header) as UTF-8.
        words = [
            (decode_as(chunk, word_charset).encode(), "utf-8")
            if word_charset and isinstance(chunk, bytes)
            else (chunk, word_charset)
            for chunk, word_charset in decode_header(value)
        ]
        return clean(str(make_header(words)))
    except Exception:  # noqa: BLE001 - CharsetError, HeaderParseError, LookupError...
        return value


def _decoded(raw: str, charset: str | None = None) -> str:
    """A header value as received, decoded as parse() reads headers, white space collapsed."""
    return " ".join(_decode_raw(raw, charset).split())


def first_header(msg: Message, name: str) -> str:
    """The first `name` header decoded exactly as parse() decodes it, "" if absent.

    Read from the headers as received, so a message of any policy will do (a compat32
    headers-only parse is the cheap one): RFC 2047 words are decoded, raw 8-bit bytes read
    as UTF-8, else in the charset the message's Content-Type declares, else Windows-1252
    (parse() also takes a multipart message's first text part's, which headers alone do not
    show). Never raises on what a parser stored.
    """
    raw = first_raw(msg, name)
    return "" if raw is None else _decoded(raw, _charset(msg))


def _raw_values(msg: Message) -> dict[str, list[str]]:
    """Header values as received, by lower-cased name, in one pass.

    Read this way rather than through the stdlib's header objects, which cost a parse per
    lookup: the hot path reads a dozen headers of every message.
    """
    values: dict[str, list[str]] = {}
    for key, value in msg.raw_items():
        values.setdefault(key.lower(), []).append(str(value))
    return values


def _first(values: dict[str, list[str]], name: str) -> str:
    raw = values.get(name.lower())
    return _decoded(raw[0]) if raw else ""


def _addresses(raw: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    # Parsed before RFC 2047 decoding, so an encoded display name cannot smuggle an address.
    for _, addr in getaddresses([clean(v) for v in raw]):
        addr = addr.strip().lower()
        if addr and _ADDRESS.match(addr):
            found.append(addr)
    return tuple(dict.fromkeys(found))


def _display_name(values: dict[str, list[str]], charset: str | None) -> str:
    pairs = getaddresses([clean(v, charset) for v in values.get("from", [])[:1]])
    return _decoded(pairs[0][0], charset) if pairs else ""


_COMMENT = re.compile(r"\([^()]*\)")


def authentication_results(raw: str) -> AuthHeader | None:
    """One Authentication-Results header read; unreadable parts are skipped."""
    text = " ".join(clean(raw).split())
    for _ in range(3):  # comments may nest
        text = _COMMENT.sub(" ", text)
    parts = [part.strip() for part in text.split(";")]
    if not parts or not parts[0]:
        return None
    authserv_id = parts[0].split()[0].lower()
    results: list[AuthResult] = []
    for part in parts[1:]:
        tokens = part.split()
        if not tokens or "=" not in tokens[0]:
            continue
        method, _, result = tokens[0].partition("=")
        properties: dict[str, str] = {}
        for token in tokens[1:]:
            key, eq, value = token.partition("=")
            if eq:
                properties[key.lower()] = value.strip('"').lower()
        results.append(AuthResult(method.split("/")[0].lower(), result.lower(), properties))
    return AuthHeader(authserv_id, tuple(results))


def without_reply_prefixes(subject: str) -> str:
    """The subject without the Re:, Fwd:, AW:, SV: ... a reply or forward put before it."""
    return _REPLY_PREFIX.sub("", subject)


def message_ids(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_MESSAGE_ID.findall(value)))


def automatic_reason(
    msg: Message,
    values: dict[str, list[str]] | None = None,
    senders: tuple[str, ...] | None = None,
) -> str:
    """Why this message was sent by a machine (auto-reply, bounce, list), "" if by a person.

    RFC 3834 Auto-Submitted, Microsoft's X-Auto-Response-Suppress, Precedence bulk/list/junk,
    RFC 3464 delivery-status reports and RFC 8098 read receipts, and the usual mailer daemons.
    A caller that has them already passes `values` (`_raw_values(msg)`) and `senders` (the
    From header's addr-specs, `_addresses(values["from"])`).
    """
    if values is None:
        values = _raw_values(msg)
    auto = _first(values, "Auto-Submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto}"
    suppress = _first(values, "X-Auto-Response-Suppress")
    if suppress and suppress.lower() != "none":
        return f"X-Auto-Response-Suppress: {suppress}"
    precedence = _first(values, "Precedence").lower()
    if precedence in {"bulk", "list", "junk", "auto_reply"}:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if _first(values, name):
            return f"{name} header"
    ctype = msg.get_content_type()
    report = (msg.get_param("report-type") or "") if ctype == "multipart/report" else ""
    report_type = str(report).lower()
    if report_type == "delivery-status" or ctype == "message/delivery-status":
        return "Delivery status report (bounce)"
    if report_type == "disposition-notification":
        return "Read receipt (disposition notification)"
    if senders is None:
        senders = _addresses(values.get("from", []))
    sender = ",".join(senders)
    local = sender.split("@", 1)[0]
    if local in {"mailer-daemon", "postmaster"}:
        return f"Sent by {sender} (a mail server)"
    return_path = _first(values, "Return-Path")
    if return_path.replace(" ", "") == "<>":
        return "Null return path (bounce)"
    return ""


def _structure_problem(msg: Message) -> tuple[str, bool]:
    """(why the MIME structure cannot be read, "" when it can; whether its text can still
    be read as it stands: a multipart whose boundary is missing or never appears)."""
    problem, readable = "", True
    for part in msg.walk():
        found = [d for d in part.defects if isinstance(d, _STRUCTURAL_DEFECTS)]
        if not found:
            continue
        boundary = [d for d in found if isinstance(d, _BOUNDARY_DEFECTS)]
        defect = (boundary or found)[0]
        problem = problem or (
            f"Malformed MIME: {part.get_content_type()} part: {type(defect).__name__}."
        )
        readable = readable and bool(boundary)
    return problem, readable and bool(problem)


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - a broken RFC 2231 parameter: name it ourselves
        name = None
    name = clean(str(name or "")).replace("/", "_").replace("\\", "_").strip()
    if name:
        return name[:255]
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        return f"message-{index}.eml"
    extension = mimetypes.guess_extension(ctype) or ".bin"
    return f"attachment-{index}{extension}"


def _content(part: Message) -> bytes:
    if part.is_multipart():
        payload = part.get_payload()
        # A forwarded message is kept as the message itself (an .eml), not its wrapper part.
        inner = payload[0] if isinstance(payload, list) and len(payload) == 1 else part
        if part.get_content_type() != "message/rfc822" or not isinstance(inner, Message):
            inner = part
        try:
            return inner.as_bytes(policy=_EML_POLICY)
        except Exception:  # noqa: BLE001 - serialise as text if the generator chokes
            return inner.as_string().encode("utf-8", "surrogateescape")
    return _payload(part)


def _payload(part: Message) -> bytes:
    """The part's content, its transfer encoding undone.

    The stdlib decodes only a Content-Transfer-Encoding written exactly: one with a trailing
    space, a comment or a stray `;` (as some mailers write it) is read as its token.
    """
    header = part.get("content-transfer-encoding")
    cte = getattr(header, "cte", None)
    if cte in ("base64", "quoted-printable") and str(header).lower() != cte:
        part.replace_header("Content-Transfer-Encoding", cte)
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _charset(part: Message) -> str | None:
    try:
        value = part.get_param("charset")
    except Exception:  # noqa: BLE001 - an unreadable parameter is no charset
        return None
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return str(value) if value else None


@dataclass
class _Walk:
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    files: list[MailFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The text and HTML parts in order, with the block each belongs to: a child of a
    # multipart/mixed (or of any multipart but alternative and related) is a block of its
    # own; everything under one multipart/alternative or /related is one block.
    pieces: list[tuple[int, str, str]] = field(default_factory=list)
    blocks: int = 0
    charset: str | None = None  # the first text part's


def _is_attachment(part: Message) -> bool:
    disposition = part.get_content_disposition()
    if disposition == "attachment":
        return True
    try:
        return bool(part.get_filename())
    except Exception:  # noqa: BLE001
        return True


def _walk(part: Message, into: _Walk, block: int = 0, *, one_block: bool = False) -> None:
    ctype = part.get_content_type()
    if ctype == "message/rfc822" or (ctype.startswith("message/") and part.is_multipart()):
        into.files.append(
            MailFile(_filename(part, len(into.files) + 1), "message/rfc822", _content(part))
        )
        return
    if part.is_multipart():
        children = part.get_payload()
        one_block = one_block or part.get_content_subtype() in ("alternative", "related")
        if isinstance(children, list):
            for child in children:
                if isinstance(child, Message):
                    if not one_block:
                        into.blocks += 1
                        block = into.blocks
                    _walk(child, into, block, one_block=one_block)
        return
    if part.get_content_maintype() == "multipart":
        # Its boundary never appears (see _structure_problem): its body read as one text.
        ctype = "text/plain"
    elif ctype not in ("text/plain", "text/html") or _is_attachment(part):
        into.files.append(MailFile(_filename(part, len(into.files) + 1), ctype, _content(part)))
        return
    charset = _charset(part)
    into.charset = into.charset or charset
    text, note = decode_text(_payload(part), charset)
    if note:
        into.notes.append(note)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kind = "text" if ctype == "text/plain" else "html"
    (into.texts if kind == "text" else into.htmls).append(text)
    into.pieces.append((block, kind, text))


def _sections(pieces: list[tuple[int, str, str]]) -> tuple[tuple[str, str], ...]:
    """The body as ("text" | "html", content) sections in order, when the mail holds HTML
    content beside its text (a text/html part that is no alternative of a text/plain one,
    as in multipart/mixed); () otherwise, the text (else the HTML) being the whole body."""
    kinds: dict[int, set[str]] = {}
    for block, kind, content in pieces:
        if content.strip():
            kinds.setdefault(block, set()).add(kind)
    if not any("text" in k for k in kinds.values()) or all("text" in k for k in kinds.values()):
        return ()
    # A block with text shows its text (as a body of text does), one without its HTML.
    return tuple(
        (kind, content.strip("\n"))
        for block, kind, content in pieces
        if content.strip() and (kind == "text") == ("text" in kinds[block])
    )


def parse(raw: bytes) -> ParsedMail:
    """Read a stored message; never raises on malformed input (see `structure_problem`)."""
    walked = _Walk()
    try:
        msg = BytesParser(policy=_PARSE_POLICY).parsebytes(raw)
    except Exception as exc:  # noqa: BLE001 - e.g. RecursionError on absurdly deep nesting
        # The headers alone still say who sent it and whether it is machine mail.
        msg = BytesParser(policy=_PARSE_POLICY).parsebytes(raw, headersonly=True)
        structure = f"Malformed MIME: the parser gave up on the body ({type(exc).__name__})."
    else:
        structure = ""
    read_as_text = False
    try:
        if not structure:
            structure, read_as_text = _structure_problem(msg)
        if not structure or read_as_text:
            _walk(msg, walked)
    except Exception as exc:  # noqa: BLE001 - the stdlib fails in assorted ways on bad MIME
        structure = f"Malformed MIME: {type(exc).__name__}: {clean(str(exc))[:200]}"
        read_as_text = False
    if read_as_text:
        walked.files.insert(0, MailFile(AS_RECEIVED, "message/rfc822", raw))
        walked.notes.append(f"{structure} Its text is shown as received; {AS_RECEIVED} holds it.")
    values = _raw_values(msg)
    from_addresses = _addresses(values.get("from", []))
    try:
        automatic = automatic_reason(msg, values, from_addresses)
    except Exception:  # noqa: BLE001 - an unreadable report header proves nothing
        automatic = ""
    recipients: list[str] = []
    for name in ("to", "cc", "delivered-to", "x-original-to", "envelope-to"):
        recipients.extend(_addresses(values.get(name, [])))
    # Raw 8-bit header bytes that are not UTF-8 are read in the charset the message declares.
    charset = _charset(msg) or walked.charset
    headers = {name: _decoded(raw[0], charset) for name, raw in values.items()}
    html = "\n".join(h for h in walked.htmls if h.strip())
    return ParsedMail(
        message_id=(message_ids(headers.get("message-id", "")) or ("",))[0],
        from_addresses=from_addresses,
        from_name=_display_name(values, charset),
        subject=headers.get("subject", ""),
        in_reply_to=message_ids(headers.get("in-reply-to", "")),
        references=message_ids(headers.get("references", "")),
        recipients=tuple(dict.fromkeys(recipients)),
        text="\n\n".join(t.strip("\n") for t in walked.texts if t.strip()),
        html=html,
        files=tuple(walked.files),
        automatic=automatic,
        structure_problem=structure,
        read_as_text=read_as_text,
        sections=_sections(walked.pieces) if not read_as_text else (),
        notes=tuple(dict.fromkeys(walked.notes)),
        headers=headers,
        auth_results=tuple(
            found
            for v in values.get("authentication-results", [])
            if (found := authentication_results(v)) is not None
        ),
    )


# --- quoted history ------------------------------------------------------------------------

# The line a reply's quoted history starts at, as Gmail, Apple Mail, Thunderbird and Outlook
# write it (English, French, German, Spanish, Dutch, Italian, Portuguese attributions).
_ATTRIBUTION = re.compile(
    r"^\s*(?:On\s.+\swrote|Le\s.+\sa\s+écrit|Am\s.+\sschrieb\s.+|El\s.+\sescribió|"
    r"Op\s.+\sgeschreven|Il\s.+\sha\s+scritto|Em\s.+\sescreveu)\s*:\s*$",
    re.IGNORECASE,
)
_OUTLOOK_SEPARATOR = re.compile(
    r"^\s*(?:-{3,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|"
    r"Mensaje original)\s*-{3,}|_{20,})\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(?:From|De|Von|Van|Da)\s*:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(
    r"^\s*\*?(?:Sent|Date|Envoyé|Gesendet|Enviado|Verzonden|Inviato|To|À|An|Para|Aan|A)\s*:\*?",
    re.IGNORECASE,
)
_FORWARDED = re.compile(r"^\s*-{5,}\s*Forwarded message\s*-{5,}\s*$", re.IGNORECASE)


def _history_starts(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if _FORWARDED.match(line):
            return None  # forwarded mail: everything below is the content being sent on
        if _ATTRIBUTION.match(line):
            return i
        # Gmail wraps a long attribution: "On Mon, ... Carol <carol@x>" / "wrote:".
        if i + 1 < len(lines) and _ATTRIBUTION.match(line + " " + lines[i + 1].strip()):
            if line.strip().lower().startswith(("on ", "le ", "am ", "el ", "op ", "il ", "em ")):
                return i
        if _OUTLOOK_SEPARATOR.match(line):
            return i
        if _OUTLOOK_FROM.match(line) and any(
            _OUTLOOK_NEXT.match(following) for following in lines[i + 1 : i + 4]
        ):
            return i
    return None


def strip_quoted_text(text: str) -> str:
    """The new part of a plain-text reply: the history from its attribution line (or
    Outlook header block) on is dropped, then trailing `>` lines. Unchanged when nothing
    would remain."""
    lines = text.splitlines()
    start = _history_starts(lines)
    kept = lines[:start] if start is not None else lines
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    result = "\n".join(kept).strip("\n")
    return result if result.strip() else text


# Where mail clients put the quoted history in HTML: Gmail's quote div, Apple Mail's cite
# blockquote, Outlook's reply header (divRplyFwdMsg, appendonsend, the new Outlook's reference
# container, OutlookMessageHeader), Yahoo's quoted div, Thunderbird's cite prefix.
_HTML_HISTORY = re.compile(
    r"<div[^>]*class=[\"'][^\"']*gmail_quote[^\"']*[\"']"
    r"|<blockquote[^>]*type=[\"']?cite"
    r"|<div[^>]*id=[\"']?(?:divRplyFwdMsg|appendonsend|mail-editor-reference-message-container)"
    r"|<div[^>]*class=[\"']?(?:OutlookMessageHeader|yahoo_quoted)"
    r"|<hr[^>]*id=[\"']?stopSpelling"
    r"|<div[^>]*class=[\"']?moz-cite-prefix",
    re.IGNORECASE,
)


def strip_quoted_html(html: str) -> str:
    """The new part of an HTML reply: cut where the client's quoted history starts.

    The cut may leave open tags; the body is sanitised (and so balanced) when rendered.
    Unchanged when no text would remain.
    """
    match = _HTML_HISTORY.search(html)
    if match is None:
        return html
    head = html[: match.start()]
    visible = re.sub(r"<[^>]*>|&nbsp;|\s", "", head)
    return head if visible else html
