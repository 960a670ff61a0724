"""Decoded QR/barcode payloads and text read in a picture, said without their secrets."""

from __future__ import annotations

import pytest

from safeshare.vision.payload import described
from safeshare.vision.payload_words import hide_secrets, iban_ok, seed_phrase
from safeshare.vision.report import Seen, Visible

SEED = "abandon ability able about above absent absorb abstract absurd abuse access accident"

HIDDEN_CASES = [  # (payload, words expected, secret that must not appear)
    # 1. recovery phrases
    (SEED, "a recovery phrase of 12 words, not shown", "absorb"),
    (
        "legal winner thank year wave sausage worth useful legal winner thank yellow",
        "a recovery phrase of 12 words, not shown",
        "sausage",
    ),
    (
        " ".join(f"{i}. {w}" for i, w in enumerate(SEED.split(), 1)),
        "a recovery phrase of 12 words, not shown",
        "ability",
    ),
    (" ".join(SEED.split() * 2), "a recovery phrase of 24 words, not shown", "absurd"),
    (" ".join(SEED.split() + SEED.split()[:3]), "a recovery phrase of 15 words, not shown", "absurd"),
    # 2. password words
    ("mot de passe : secretmot", "mot de passe : … (its secret left out)", "secretmot"),
    ("Mot de passe: secretmot", "Mot de passe: … (its secret left out)", "secretmot"),
    ("contraseña: secretomio", "contraseña: … (its secret left out)", "secretomio"),
    ("Contraseña = secretomio", "Contraseña = … (its secret left out)", "secretomio"),
    ("senha: segredinho", "senha: … (its secret left out)", "segredinho"),
    ("wachtwoord: geheimpje", "wachtwoord: … (its secret left out)", "geheimpje"),
    ("Kennwort: geheimnis", "Kennwort: … (its secret left out)", "geheimnis"),
    ("Passwort: geheimnis", "Passwort: … (its secret left out)", "geheimnis"),
    ("hasło: tajnehaslo", "hasło: … (its secret left out)", "tajnehaslo"),
    ("пароль: секретик", "пароль: … (its secret left out)", "секретик"),
    ("パスワード: himitsu", "パスワード: … (its secret left out)", "himitsu"),
    ("密码: mimamima", "密码: … (its secret left out)", "mimamima"),
    ("clave: secretomio", "clave: … (its secret left out)", "secretomio"),
    ("WLAN-Schlüssel: geheimnis", "WLAN-Schlüssel: … (its secret left out)", "geheimnis"),
    ("passwd: hunterhunter", "passwd: … (its secret left out)", "hunterhunter"),
    ("PSK: hunterhunter", "PSK: … (its secret left out)", "hunterhunter"),
    ("password: hunter2", "password: … (its secret left out)", "hunter2"),
    ("password is: hunter2", "password is: … (its secret left out)", "hunter2"),
    ("password is hunter2", "password is … (its secret left out)", "hunter2"),
    (
        "The password for the wifi is hunter2",
        "The password for the wifi is … (its secret left out)",
        "hunter2",
    ),
    ("my pin number is 4821", "my pin number is … (its secret left out)", "4821"),
    ("PIN 1234 PUK 5678", "PIN … PUK … (its secret left out)", "1234"),
    ("PIN 1234 PUK 5678", "PIN … PUK … (its secret left out)", "5678"),
    ("PIN:1234 PUK:12345678", "PIN:… PUK:… (its secret left out)", "12345678"),
    ("Your code: 48 29 13", "Your code: … (its secret left out)", "29 13"),
    ("BEGIN:VCARD\nFN:Jane\nNOTE:Passwort: geheimnis\nEND:VCARD", None, "geheimnis"),
    # 3. links
    (
        "https://example.com/confirm?dGhpcyBpcyBhIHNlY3JldCB0b2tlbg==",
        "https://example.com/confirm?… (its key left out)",
        "dGhpcyBp",
    ),
    (
        "https://example.com/v?Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=",
        "https://example.com/v?… (its key left out)",
        "Zm9vYmFy",
    ),
    (
        "https://example.com/?8f3a9c2d1b4e7a6f=1",
        "https://example.com/?… (its key left out)",
        "8f3a9c2d1b4e7a6f",
    ),
    (
        "https://app.example.com/#/d/8f3a9c2d1b4e?lang=en",
        "https://app.example.com/#/d/…?lang=en (its key left out)",
        "8f3a9c2d1b4e",
    ),
    (
        "https://app.example.com/#/s/hunterhunter/x?lang=en",
        "https://app.example.com/#/s/…/x?lang=en (its key left out)",
        "hunterhunter",
    ),
    (
        "https://app.example.com/#/login?token=abc",
        "https://app.example.com/#/login?token=… (its key left out)",
        "abc",
    ),
    (
        "https://example.com/#/reset/8f3a9c2d1b",
        "https://example.com/#/reset/… (its key left out)",
        "8f3a9c2d1b",
    ),
    (
        "https://example.com/path;password=hunterhunter",
        "https://example.com/path;password=… (its key left out)",
        "hunterhunter",
    ),
    (
        "https://example.com/a;jsessionid=ABCD1234/b",
        "https://example.com/a;jsessionid=…/b (its key left out)",
        "ABCD1234",
    ),
    ("https://example.com/s/hunter2", "https://example.com/s/… (its key left out)", "hunter2"),
    (
        "https://maps.google.com/?q=48.8584,2.2945",
        "https://maps.google.com/?q=… (its key left out)",
        "48.8584",
    ),
    # 4. free text
    ("4111.1111.1111.1111", "… (its secret left out)", "4111.1111"),
    ("4111-1111-1111-1111", "… (its secret left out)", "4111-1111"),
    ("card 4111 1111 1111 1111 exp 12/29", "card … exp 12/29 (its secret left out)", "1111 1111"),
    ("IBAN: DE89 3704 0044 0532 0130 00", "IBAN: … (its secret left out)", "0532 0130"),
    ("IBAN DE89370400440532013000", "IBAN … (its secret left out)", "0532013000"),
    ("BCD\n002\n1\nSCT\nBPOTBEB1\nRed Cross\nBE72 0000 0000 1616\nEUR1\n\n\nUrgency fund", None, "0000 1616"),
    ("SPC\n0200\n1\nCH4431999123000889012\nS\nRobert Schneider AG", None, "CH4431999123000889012"),
    ("geo:48.8584,2.2945", "a map location, not shown", "48.8584"),
    ("GEO:48.8584,2.2945?z=19", "a map location, not shown", "2.2945"),
]


@pytest.mark.parametrize(("payload", "expected", "secret"), HIDDEN_CASES)
def test_secret_left_out(payload: str, expected: str | None, secret: str) -> None:
    said = described(payload)
    assert secret.lower() not in said.lower(), said
    if expected is not None:
        assert said == expected
    else:
        assert "(its secret left out)" in said


SHOWN_CASES = [  # payloads that carry nothing secret: said as they are
    "4006381333931",  # EAN-13
    "036000291452",  # UPC-A
    "96385074",  # EAN-8
    "12345678901234",  # 14 digits (GTIN-14)
    "https://example.org/menu",
    "https://example.org/pass/4821",
    "https://example.org/menu?lang=en&page=2",
    "https://example.org/#/menu?lang=en",
    "tel:+15551234",
    "Scan me to order lunch",
    "the quick brown fox jumps over the lazy dog",  # lowercase words, but not 12 to 24
    "Our table is number 12, please wait",
    "DE12 3456",  # too short for an IBAN
    "Order no. DE00 1234 5678 9012 34",  # IBAN-shaped, wrong check digits
    "1234.5678.9012.3456",  # card-shaped, fails Luhn
]


@pytest.mark.parametrize("payload", SHOWN_CASES)
def test_plain_payload_shown(payload: str) -> None:
    assert described(payload) == " ".join(payload.split())


def test_seed_phrase_counts() -> None:
    assert seed_phrase(SEED) == 12
    assert seed_phrase(" ".join(SEED.split()[:11])) == 0
    assert seed_phrase(SEED.replace("abandon", "Abandon")) == 0
    assert seed_phrase(SEED + " 42") == 0


def test_iban_check() -> None:
    assert iban_ok("DE89370400440532013000")
    assert iban_ok("GB82WEST12345698765432")
    assert not iban_ok("DE89370400440532013001")
    assert not iban_ok("DE8937")


@pytest.mark.parametrize(
    ("text", "expected", "secret"),
    [
        ("Password hunter2", "Password …", "hunter2"),
        ("WLAN-Schlüssel: geheimnis", "WLAN-Schlüssel: …", "geheimnis"),
        ("4111 1111 1111 1111", "…", "4111"),
        ("DE89 3704 0044 0532 0130 00", "…", "0532"),
        ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "key …", "4eC39Hq"),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "…", "4eC39Hq"),
    ],
)
def test_hide_secrets_in_text(text: str, expected: str, secret: str) -> None:
    assert hide_secrets(text) == expected
    assert secret not in hide_secrets(text)


def test_text_read_in_a_picture_hides_its_secrets() -> None:
    texts = [
        Seen("text", (0, 0, 1, 1), "Password hunter2"),
        Seen("text", (0, 0, 1, 1), "IBAN DE89370400440532013000"),
        Seen("text", (0, 0, 1, 1), "Menu"),
    ]
    said = Visible((10, 10), texts=texts).describe()
    assert said == "readable text ('Password …', 'IBAN …', 'Menu')"
    assert "hunter2" not in said and "0532" not in said


def test_seed_phrase_in_a_code() -> None:
    said = Visible((10, 10), codes=[Seen("QRCode", (0, 0, 1, 1), SEED)]).describe()
    assert said == "a QR code (a recovery phrase of 12 words, not shown)"
