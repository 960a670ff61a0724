"""Small value conversions shared by the metadata readers."""

from __future__ import annotations

import math


def valid_orientation(value: int | None) -> int | None:
    """EXIF orientation 1..8, or None for anything else (0, 9, garbage)."""
    return value if value is not None and 1 <= value <= 8 else None


def format_position(lat: float, lon: float) -> str:
    """'48.8584 N, 2.2945 E' - four decimals, about 10 m."""
    return f"{abs(lat):.4f} {'S' if lat < 0 else 'N'}, {abs(lon):.4f} {'W' if lon < 0 else 'E'}"


def degrees(parts: tuple[float, ...]) -> float | None:
    """Degrees, minutes, seconds (any of them may be missing) -> decimal degrees."""
    if not parts or not all(math.isfinite(p) for p in parts[:3]):
        return None
    d, m, s = [*parts[:3], 0.0, 0.0][:3]
    return d + m / 60 + s / 3600


def decode_text(raw: bytes) -> str:
    """UTF-8 when it is valid, Latin-1 otherwise (old cameras and IPTC)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
