"""Decoding mail text by the charsets mailers really write, never raising.

A label names a standard; mailers write its vendor superset under it. GB2312 and GBK mail
holds GBK and GB18030 characters, Shift_JIS mail holds Microsoft's CP932 extensions (①, Ⅲ,
㈱, 髙), ISO-2022-JP mail the same extensions (Microsoft's CP50220/CP50221), and KS C 5601
mail Microsoft's UHC (CP949). Each such label is read as its superset, which decodes every
byte of the standard exactly as the standard does. ISO-2022-JP is 7-bit, so mailers often
declare no charset for it: text with its escape sequences is read as ISO-2022-JP.
"""

from __future__ import annotations

import codecs
import re

# Used when a part names a charset Python does not know (or none, on 8-bit text that is not
# UTF-8): every byte decodes, so nothing is lost and nothing raises.
FALLBACK_CHARSET = "windows-1252"
ISO_2022_JP = "iso2022_jp"
# Labels mailers write that Python's codec registry does not know.
_LABELS = {"windows-31j": "cp932", "x-sjis": "cp932", "x-gbk": "gbk", "gb_2312-80": "gb2312"}
# Python's codec name for a label (after codecs.lookup) -> the superset to decode it with.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "shift_jis": "cp932", "euc_kr": "cp949"}
# ISO-2022-JP's switches to JIS X 0208 (1983 and 1978), ASCII, JIS X 0201 Roman and Katakana.
_JIS_SWITCH = re.compile(rb"(\x1b\$[B@]|\x1b\([BJI])")
_JIS_X0208 = re.compile(rb"\x1b\$[B@]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def codec_for(charset: str) -> str:
    """The codec to read text labelled `charset` with: the label's superset where mailers
    write one, else Python's name for it (the label itself when Python does not know it)."""
    label = charset.strip().strip('"').strip("'").lower()
    label = _LABELS.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return label
    return _SUPERSETS.get(name, name)


def is_iso_2022_jp(payload: bytes) -> bool:
    """Whether 7-bit text switches to JIS X 0208 as ISO-2022-JP does (ESC $ B, ESC $ @)."""
    return payload.isascii() and _JIS_X0208.search(payload) is not None


def _as_shift_jis(payload: bytes) -> bytes:
    """ISO-2022-JP rewritten as the Shift_JIS bytes of the same characters, for CP932.

    Shift_JIS is JIS X 0208 in another arrangement: each (row, cell) maps to two bytes by
    JIS X 0208's own annex, and the rows Microsoft fills (13: ①, Ⅲ; 89-92: 髙, 﨑) land on
    the bytes CP932 holds them at. Katakana (ESC ( I) are CP932's single bytes 0xA1-0xDF.
    """
    out = bytearray()
    mode = b"\x1b(B"
    for piece in _JIS_SWITCH.split(payload):
        if _JIS_SWITCH.fullmatch(piece):
            mode = piece
            continue
        if mode == b"\x1b(I":
            out += bytes(b | 0x80 if 0x21 <= b <= 0x5F else b for b in piece)
        elif mode.startswith(b"\x1b$"):
            i = 0
            while i < len(piece):
                first = piece[i]
                second = piece[i + 1] if i + 1 < len(piece) else 0
                if not (0x21 <= first <= 0x7E and 0x21 <= second <= 0x7E):
                    out.append(first)  # a line break inside the segment: kept as written
                    i += 1
                    continue
                lead = (first - 0x21) // 2 + 0x81
                lead += 0x40 if lead > 0x9F else 0
                if first % 2:
                    trail = second + (0x1F if second < 0x60 else 0x20)
                else:
                    trail = second + 0x7E
                out += bytes((lead, trail))
                i += 2
        else:
            out += piece
    return bytes(out)


def decode_iso_2022_jp(payload: bytes) -> str:
    """ISO-2022-JP with its katakana and JIS X 0212 (Python's iso2022_jp_ext), else with
    Microsoft's extensions, which no Python codec decodes (read through CP932)."""
    try:
        return payload.decode("iso2022_jp_ext")
    except UnicodeDecodeError:
        return _as_shift_jis(payload).decode("cp932", "replace")


def decode_as(payload: bytes, charset: str) -> str:
    """`payload` in `charset` read as mailers mean it, bad bytes replaced; raises
    LookupError (or TypeError, ValueError) for a name that is no text encoding."""
    codec = codec_for(charset)
    if codec == ISO_2022_JP:
        return decode_iso_2022_jp(payload)
    return payload.decode(codec, "replace")


def has_surrogates(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def clean(text: str, charset: str | None = None) -> str:
    """Valid Unicode without NUL: lone surrogates (raw 8-bit header bytes) are re-decoded,
    as UTF-8, else in `charset` (the message's declared one), else as Windows-1252."""
    if has_surrogates(text):
        raw = text.encode("utf-8", "surrogateescape")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_declared(raw, charset)
    elif "\x1b" in text and text.isascii() and is_iso_2022_jp(text.encode()):
        text = decode_iso_2022_jp(text.encode("ascii"))  # raw ISO-2022-JP in a header
    return text.replace("\x00", "")


def _decode_declared(raw: bytes, charset: str | None) -> str:
    if charset and codec_for(charset) not in ("ascii", "utf-8"):
        try:
            return decode_as(raw, charset)
        except (LookupError, TypeError, ValueError):
            pass
    return raw.decode(FALLBACK_CHARSET, "replace")


def decode_text(payload: bytes, charset: str | None) -> tuple[str, str]:
    """(text, note): the payload in its declared charset; an unknown one falls back safely.

    The note says what was repaired ("" when nothing was).
    """
    name = (charset or "").strip().strip('"').strip("'").lower()
    if (not name or codec_for(name) == "ascii") and is_iso_2022_jp(payload):
        return clean(decode_iso_2022_jp(payload)), ""
    if name:
        try:
            return clean(decode_as(payload, name)), ""
        except (LookupError, TypeError, ValueError):
            # Unknown names, and codecs that are not text encodings ("base64", "zlib").
            pass
    try:
        text = payload.decode("utf-8")
        guessed = "UTF-8"
    except UnicodeDecodeError:
        text = payload.decode(FALLBACK_CHARSET, "replace")
        guessed = "Windows-1252"
    if not name:
        return clean(text), ""
    return clean(text), f"Unknown charset {name!r}: read as {guessed}."
