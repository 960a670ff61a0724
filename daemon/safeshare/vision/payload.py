"""What a decoded code holds, said without its secrets.

Notifications stay in the desktop's history (and `clean` output in the terminal's), so the
words that describe a code must not carry what the code protects: a Wi-Fi QR code is "Wi-Fi
network 'home', with its password", an authenticator QR code names its issuer but not its
key, a link keeps its site and path but not the values of secret-looking parameters, and a
long opaque string (an API key, a wallet key) is "a long code, not shown". The JSON output
of `clean` and `inspect` keeps the payload: it is what a program asked for.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

from safeshare.findings import shorten as _shorten
from safeshare.printable import printable
from safeshare.vision.payload_words import HIDDEN, hide_secrets, opaque, seed_phrase, tokenish

__all__ = ["HIDDEN", "described", "hide_secrets", "shorten"]


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, with nothing that could hide or pose."""
    return printable(_shorten(text, limit))


# Parameter names that carry credentials or one-time keys in links.
SECRET_NAMES = re.compile(
    r"token|key|secret|pass|pw|pin|auth|sig|session|sid|otp|jwt|code|ticket|nonce|invite|reset|"
    r"login|hash|cred|^[pkts]$",
    re.IGNORECASE,
)
# Path segments after which the next one is a key: /reset/8f3a9c2d1b/, /invite/Xk29Qp.
SECRET_PATHS = re.compile(r"reset|invite|token|verify|confirm|activate|login|auth|key|magic|share|^s$", re.I)
# A map position in a link's query: 'q=48.8584,2.2945'.
COORDS = re.compile(r"-?\d{1,3}\.\d+, ?-?\d{1,3}\.\d+")


def described(text: str, limit: int = 60) -> str:
    """The payload in words, secrets left out ('' when there is nothing to show)."""
    text = text.strip()
    lowered = text[:16].lower()
    if lowered.startswith("wifi:"):
        return _wifi(text)
    if lowered.startswith("otpauth://"):
        return _otp(text)
    if lowered.startswith("geo:"):
        return "a map location, not shown"
    if count := seed_phrase(text):
        return f"a recovery phrase of {count} words, not shown"
    if re.match(r"[a-z][a-z0-9+.-]{1,15}://", lowered):
        link = shorten(_link(text), limit)
        return f"{link} (its key left out)" if HIDDEN in link else link
    if opaque(text):
        return "a long code, not shown"
    words = shorten(hide_secrets(text), limit)
    return f"{words} (its secret left out)" if HIDDEN in words else words


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
    user = f"{HIDDEN if tokenish(name) else name}{':' + HIDDEN if parts.password else ''}@" if name else ""
    shown = f"{parts.scheme}://{user}{host}{port}{_path(parts.path)}"
    query = _params(parts.query)
    if query:
        shown += "?" + query
    if parts.fragment.startswith(("/", "!/")):
        fpath, sep, fquery = parts.fragment.partition("?")
        fquery = _params(fquery)
        shown += "#" + _path(fpath) + (f"?{fquery}" if sep and fquery else "")
    elif "=" in parts.fragment:
        shown += "#" + _params(parts.fragment)
    elif parts.fragment:
        shown += "#" + HIDDEN
    return shown


def _path(path: str) -> str:
    """/reset/8f3a9c2d1b;password=x -> /reset/…;password=…: key-like segments, the segment after
    a 'reset', 'invite'... and secret matrix parameters left out."""
    segments = path.split("/")
    shown = []
    for i, segment in enumerate(segments):
        name, sep, matrix = segment.partition(";")
        after_secret = i and SECRET_PATHS.search(segments[i - 1].partition(";")[0]) and name
        name = HIDDEN if tokenish(name) or after_secret else name
        shown.append(name + (";" + _params(matrix).replace("&", ";") if sep else ""))
    return "/".join(shown)


def _params(query: str) -> str:
    pairs = []
    for pair in re.split(r"[&;]", query):
        name, sep, value = (unquote(part) for part in pair.partition("="))
        if tokenish(name) or (len(name) >= 8 and sep and not value.strip("=")):
            pairs.append(HIDDEN)  # a key as the name, or a bare base64 key: '?dGhpcyBp…=='
        elif not sep:
            pairs.append(name)
        else:
            secret = bool(SECRET_NAMES.search(name)) or tokenish(value) or bool(COORDS.fullmatch(value))
            pairs.append(f"{name}={HIDDEN if secret and value else value}")
    return "&".join(p for p in pairs if p)
