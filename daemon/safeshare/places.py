"""Offline, coarse place names for removed locations: "near Lyon, FR" or "a remote area".

The town list (GeoNames, CC BY 4.0, shipped in safeshare/data) is loaded on the first
lookup only, into a grid of 1-degree cells: a few MB, against the 191 MB of a k-d tree
with scipy. Distances are great-circle, and longitudes wrap across the 180th meridian.
Past `REMOTE_KM` from any town of 15,000 people the answer is "a remote area", not the
nearest town 500 km away.
"""

from __future__ import annotations

import gzip
import io
import math
import re
import sys
import threading
from array import array
from dataclasses import dataclass
from importlib import resources

REMOTE_KM = 50.0
EARTH_KM = 6371.0
_POSITION = re.compile(r"^\s*([\d.]+) ([NS]), ([\d.]+) ([EW])\s*$")


@dataclass(frozen=True)
class Town:
    name: str
    country: str
    population: int


class Gazetteer:
    """Towns in flat arrays, indexed by 1-degree cell: a few MB for 34,000 towns."""

    def __init__(self, rows: list[tuple[str, str, float, float, int]]) -> None:
        self.names = [name for name, _, _, _, _ in rows]
        self.countries = [sys.intern(country) for _, country, _, _, _ in rows]
        self.lats = array("d", (lat for _, _, lat, _, _ in rows))
        self.lons = array("d", (lon for _, _, _, lon, _ in rows))
        self.populations = array("q", (pop for _, _, _, _, pop in rows))
        self.cells: dict[tuple[int, int], array[int]] = {}
        for i, (lat, lon) in enumerate(zip(self.lats, self.lons, strict=True)):
            self.cells.setdefault((math.floor(lat), math.floor(lon) % 360), array("i")).append(i)

    @classmethod
    def shipped(cls) -> Gazetteer:
        rows = []
        with resources.files("safeshare.data").joinpath("places.tsv.gz").open("rb") as packed:
            for line in io.TextIOWrapper(gzip.GzipFile(fileobj=packed), encoding="utf-8"):
                name, country, lat, lon, population = line.rstrip("\n").split("\t")
                rows.append((name, country, float(lat), float(lon), int(population)))
        return cls(rows)

    def nearest(self, lat: float, lon: float) -> tuple[Town, float] | None:
        """The town to name for (lat, lon) and its distance, or None past REMOTE_KM.

        Coarse on purpose: of the towns about as near as the nearest one (within 1.5 times
        its distance plus 10 km), the largest is named, so a point in Paris's 16th
        arrondissement is "near Paris", not "near Paris 16 Passy"."""
        close = [
            (i, great_circle_km(lat, lon, self.lats[i], self.lons[i])) for i in self._candidates(lat, lon)
        ]
        close = [(i, km) for i, km in close if km <= REMOTE_KM]
        if not close:
            return None
        nearest_km = min(km for _, km in close)
        i, km = max((p for p in close if p[1] <= 1.5 * nearest_km + 10), key=lambda p: self.populations[p[0]])
        return Town(self.names[i], self.countries[i], self.populations[i]), km

    def _candidates(self, lat: float, lon: float) -> list[int]:
        """Towns in the cells that can hold a point within REMOTE_KM of (lat, lon)."""
        cos = max(math.cos(math.radians(min(abs(lat) + 1, 90))), 1e-6)
        lon_span = min(180, math.ceil(REMOTE_KM / (111.32 * cos)) + 1)
        row, col = math.floor(lat), math.floor(lon)
        found: list[int] = []
        for r in range(row - 1, row + 2):  # 50 km is less than a degree of latitude
            for c in range(col - lon_span, col + lon_span + 1):
                found += self.cells.get((r, c % 360), ())
        return found


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance; wraps across the 180th meridian by construction."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


_gazetteer: Gazetteer | None = None
_lock = threading.Lock()


def describe_position(position: str) -> str | None:
    """'48.8584 N, 2.2945 E' -> 'near Paris, FR'; 'a remote area' far from towns."""
    match = _POSITION.match(position)
    if not match:
        return None
    lat = float(match[1]) * (-1 if match[2] == "S" else 1)
    lon = float(match[3]) * (-1 if match[4] == "W" else 1)
    global _gazetteer
    with _lock:
        if _gazetteer is None:
            _gazetteer = Gazetteer.shipped()
    found = _gazetteer.nearest(lat, lon)
    return f"near {found[0].name}, {found[0].country}" if found else "a remote area"
