"""What a decoded code holds, said without its secrets.

Notifications stay in the desktop's history (and `clean` output in the terminal's), so the
words that describe a code must not carry what the code protects: a Wi-Fi QR code is "Wi-Fi
network 'home', with its password", an authenticator QR code names its issuer but not its
key, a link keeps its site and path but not the values of secret-looking parameters, and a
long opaque string (an API key, a wallet key) is "a long code, not shown". The JSON output
of `clean` and `inspect` keeps the payload: it is what a program asked for.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from urllib.parse import parse_qsl, unquote, urlsplit

from safeshare.findings import shorten as _shorten
from safeshare.printable import printable


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, with nothing that could hide or pose."""
    return printable(_shorten(text, limit))


# Parameter names that carry credentials or one-time keys in links.
SECRET_NAMES = re.compile(
    r"token|key|secret|pass|pw|pin|auth|sig|session|sid|otp|jwt|code|ticket|nonce|invite|reset|"
    r"login|hash|cred|^[pkts]$",
    re.IGNORECASE,
)
# In free text (a vCard note, an SMS): the word after one of these is a secret.
SECRET_WORDS = re.compile(
    r"\b(password|passwort|passcode|passphrase|pass|pwd|pw|pin|code|otp|token|secret|key)\b"
    r"(\s*(?:is|:|=|-)?\s*)(\S+)",
    re.IGNORECASE,
)
# Path segments after which the next one is a key: /reset/8f3a9c2d1b/, /invite/Xk29Qp.
SECRET_PATHS = re.compile(r"reset|invite|token|verify|confirm|activate|login|auth|key|magic|share", re.I)
# A payment card number: 15 to 19 digits, maybe in groups (EAN and UPC codes are 8 to 14).
CARD = re.compile(r"\b(?:\d{4}[ -]){3}\d{4}(?:[ -]?\d{3})?\b|\b\d{4}[ -]\d{6}[ -]\d{5}\b|\b\d{15,19}\b")
HIDDEN = "…"


def described(text: str, limit: int = 60) -> str:
    """The payload in words, secrets left out ('' when there is nothing to show)."""
    text = text.strip()
    lowered = text[:16].lower()
    if lowered.startswith("wifi:"):
        return _wifi(text)
    if lowered.startswith("otpauth://"):
        return _otp(text)
    if re.match(r"[a-z][a-z0-9+.-]{1,15}://", lowered):
        link = shorten(_link(text), limit)
        return f"{link} (its key left out)" if HIDDEN in link else link
    if _opaque(text):
        return "a long code, not shown"
    words = shorten(_words(text), limit)
    return f"{words} (its secret left out)" if HIDDEN in words else words


def _words(text: str) -> str:
    """Free text with the word after 'password', 'code'..., every key-like word and card
    numbers hidden."""
    text = SECRET_WORDS.sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}", text)
    text = CARD.sub(lambda m: HIDDEN if _luhn(m.group(0)) else m.group(0), text)
    return re.sub(
        r"\S{12,}",
        lambda m: HIDDEN if any(_tokenish(part) for part in re.split(r"[:;,=&]", m.group(0))) else m.group(0),
        text,
    )


def _luhn(number: str) -> bool:
    digits = [int(ch) for ch in number if ch.isdigit()]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


def _fields(body: str) -> dict[str, str]:
    """'S:home;T:WPA;P:pa\\;ss;;' -> {'S': 'home', 'T': 'WPA', 'P': 'pa;ss'} (MECARD-style)."""
    out: dict[str, str] = {}
    for part in re.findall(r"((?:[^;\\]|\\.)*);", body + ";"):
        key, sep, value = part.partition(":")
        if sep:
            out.setdefault(key.strip().upper(), re.sub(r"\\(.)", r"\1", value))
    return out


def _wifi(text: str) -> str:
    fields = _fields(text[5:])
    network = shorten(fields.get("S", ""), 40)
    words = f"Wi-Fi network '{network}'" if network else "a Wi-Fi network"
    return words + (", with its password" if fields.get("P") else "")


def _otp(text: str) -> str:
    parts = urlsplit(text)
    label = unquote(parts.path.lstrip("/"))
    issuer = dict(parse_qsl(parts.query)).get("issuer") or label.partition(":")[0]
    who = f" for '{shorten(issuer, 30)}'" if issuer else ""
    return f"an authenticator setup{who}, with its secret key"


def _link(text: str) -> str:
    """scheme://host/path?name=… with secret-looking values, passwords and keys left out."""
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "a link, not shown (it is not well formed)"
    name = parts.username or ""
    user = f"{HIDDEN if _tokenish(name) else name}{':' + HIDDEN if parts.password else ''}@" if name else ""
    segments = parts.path.split("/")
    path = "/".join(
        HIDDEN if _tokenish(segment) or (i and SECRET_PATHS.search(segments[i - 1]) and segment) else segment
        for i, segment in enumerate(segments)
    )
    query = _params(parts.query)
    fragment = _params(parts.fragment) if "=" in parts.fragment else ("#" + HIDDEN if parts.fragment else "")
    shown = f"{parts.scheme}://{user}{host}{port}{path}"
    if query:
        shown += "?" + query
    if fragment:
        shown += fragment if fragment.startswith("#") else "#" + fragment
    return shown


def _params(query: str) -> str:
    pairs = []
    for pair in re.split(r"[&;]", query):
        name, sep, value = (unquote(part) for part in _partition(pair))
        if not sep:
            pairs.append(HIDDEN if _tokenish(name) else name)
        else:
            secret = bool(SECRET_NAMES.search(name)) or _tokenish(value)
            pairs.append(f"{name}={HIDDEN if secret and value else value}")
    return "&".join(p for p in pairs if p)


def _partition(pair: str) -> tuple[str, str, str]:
    return pair.partition("=")


def _tokenish(text: str) -> bool:
    """A key rather than a word: random-looking, or 8+ characters mixing letters and digits."""
    mixed = any(ch.isdigit() for ch in text) and any(ch.isalpha() for ch in text)
    return _opaque(text) or (len(text) >= 8 and mixed and not text.isdigit())


def _opaque(text: str) -> bool:
    """A long run without spaces that reads like a key: letters and digits mixed at random."""
    if len(text) < 20 or any(ch.isspace() for ch in text):
        return False
    counts = Counter(text)
    entropy = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    mixed = any(ch.isdigit() for ch in text) and any(ch.isalpha() for ch in text)
    return (mixed and entropy >= 3.3) or entropy >= 4.3
