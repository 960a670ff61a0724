"""Free text without its secrets: the word after a password word (in a few languages), card
numbers, IBANs, recovery phrases and long random tokens. Used for a code's payload when it is
not a link (payload.py) and for the text read in a picture (report.py)."""

from __future__ import annotations

import math
import re
from collections import Counter

HIDDEN = "…"

# Words after which a secret follows, even a few words later ("the password for the wifi is X").
_STRONG = (
    r"mot\s+de\s+passe|password|passwort|kennwort|passcode|passphrase|passwd|contrase[ñn]a|senha|"
    r"wachtwoord|has[łl]o|пароль|clave|wlan-schl(?:ü|ue)ssel|pin|puk|psk"
)
# Words after which the next word is a secret ("code 4821", "key: abc").
_WEAK = r"pass|pwd|pw|code|otp|token|secret|key"
_CJK = r"パスワード|密码|密碼|口令|暗証番号"
# A value: a group of digits ("48 29 13") or one word.
_VALUE = r"\d{1,8}(?:[ .-]\d{1,8})*(?!\S)|\S+"
SECRET_WORDS = re.compile(
    rf"(?P<word>(?<!\w)(?:{_STRONG})(?!\w)|{_CJK})"
    rf"(?P<sep>(?:\s+[^\W\d_][\w'-]*){{0,4}}?\s*(?:(?<!\w)(?:is|are|ist|es|est|é)(?!\w)\s*:?|[:=：])\s*"
    rf"|\s*[-=]?\s*)(?P<value>{_VALUE})|"
    rf"(?P<word2>(?<!\w)(?:{_WEAK})(?!\w))(?P<sep2>\s*(?:is|:|=|-)?\s*)(?P<value2>{_VALUE})",
    re.IGNORECASE,
)
# A payment card number: 15 to 19 digits, maybe in groups (EAN and UPC codes are 8 to 14).
CARD = re.compile(
    r"\b(?:\d{4}([ .-]))(?:\d{4}\1){2}\d{4}(?:\1?\d{3})?\b|\b\d{4}([ -])\d{6}\2\d{5}\b|\b\d{15,19}\b"
)
# An IBAN: country, check digits, 11 to 30 letters and digits, together or in groups of four.
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b")


def seed_phrase(text: str) -> int:
    """How many words a BIP39-style recovery phrase has (0 when `text` is not one)."""
    words = re.sub(r"(?<!\S)\d{1,2}[.)]", " ", text).split()
    if len(words) in (12, 15, 18, 21, 24) and all(re.fullmatch(r"[a-z]{3,8}", w) for w in words):
        return len(words)
    return 0


def hide_secrets(text: str) -> str:
    """Free text with the word after 'password', 'code'..., every key-like word, card numbers
    and IBANs hidden."""
    text = SECRET_WORDS.sub(_hide_value, text)
    text = CARD.sub(lambda m: HIDDEN if luhn(m.group(0)) else m.group(0), text)
    text = IBAN.sub(_hide_iban, text)
    return re.sub(
        r"\S{12,}",
        lambda m: HIDDEN if any(tokenish(part) for part in re.split(r"[:;,=&]", m.group(0))) else m.group(0),
        text,
    )


def _hide_value(m: re.Match[str]) -> str:
    if m.group("word2"):
        return f"{m.group('word2')}{m.group('sep2')}{HIDDEN}"
    return f"{m.group('word')}{m.group('sep')}{HIDDEN}"


def _hide_iban(m: re.Match[str]) -> str:
    """The longest valid IBAN at the start of the match (a group after it may be other text)."""
    groups = m.group(0).split(" ")
    for end in range(len(groups), 0, -1):
        if iban_ok("".join(groups[:end])):
            return " ".join([HIDDEN, *groups[end:]])
    return m.group(0)


def iban_ok(iban: str) -> bool:
    """The ISO 13616 check: 15 to 34 characters whose mod-97 value is 1."""
    if not 15 <= len(iban) <= 34 or not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", iban):
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def luhn(number: str) -> bool:
    digits = [int(ch) for ch in number if ch.isdigit()]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


def tokenish(text: str) -> bool:
    """A key rather than a word: random-looking, or 8+ characters mixing letters and digits."""
    mixed = any(ch.isdigit() for ch in text) and any(ch.isalpha() for ch in text)
    return opaque(text) or (len(text) >= 8 and mixed and not text.isdigit())


def opaque(text: str) -> bool:
    """A long run without spaces that reads like a key: letters and digits mixed at random."""
    if len(text) < 20 or any(ch.isspace() for ch in text):
        return False
    counts = Counter(text)
    entropy = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    mixed = any(ch.isdigit() for ch in text) and any(ch.isalpha() for ch in text)
    return (mixed and entropy >= 3.3) or entropy >= 4.3
