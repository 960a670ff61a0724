"""A clean copy is its own clean copy: cleaning it again gives the same bytes. Checked on
every corpus file through `safeshare clean`, with the fuzz target's invariants on the corpus
as seeds, and on the classes of input that broke it (re-encoded outputs: transparent HEIF
with a colour profile written as PNG, damaged multi-page TIFF and BigTIFF)."""

from __future__ import annotations

import io
import random
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pillow_heif
import pytest
import tifffile

from safeshare.batch import clean_one
from safeshare.pipeline import Pipeline, Result, Settings, Status
from tests import synth
from tests.conftest import json_lines, run_cli
from tests.fuzz_target import Tally, fuzz_one, mutate
from tests.helpers import CORPUS, exiftool_read, manifest, same_pixels

ROWS = manifest()
SEED_LIMIT = 65536  # the fuzzer's seeds: corpus files under 64 KB (tests/fuzz_clean.py)


@pytest.fixture(scope="module", params=["jpeg", "png"], ids=["heif-as-jpeg", "heif-as-png"])
def passes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The whole corpus through `safeshare clean --json`, then its clean copies again (HEIF
    and AVIF written as JPEG, the default, or as PNG)."""
    results, source = [], CORPUS
    for name in ("once", "twice"):
        out = tmp_path_factory.mktemp(name)
        proc = run_cli("clean", str(source), "--output", str(out), "--json", "--convert-to", request.param)
        results.append({str(Path(r["input"]).resolve()): r for r in json_lines(proc.stdout)})
        source = out
    return results


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_cleaning_a_clean_copy_gives_the_same_bytes(
    row: dict[str, str], passes: list[dict[str, Any]]
) -> None:
    once, twice = passes
    first = once[str((CORPUS / row["path"]).resolve())]
    if first["status"] != "cleaned":
        pytest.skip(f"refused on the first pass: {first['reason']}")
    output = Path(first["output"]).resolve()
    again = twice[str(output)]
    assert again["status"] == "cleaned", again.get("reason")
    assert again["removed"] == [], "the clean copy still carried something"
    assert Path(again["output"]).read_bytes() == output.read_bytes(), "the second pass changed the copy"


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_fuzz_invariants_hold_on_every_corpus_file(row: dict[str, str]) -> None:
    """The fuzz target on the real file as it is: a clean, verified output that carries
    nothing and that cleaning again leaves unchanged, or a clear refusal."""
    tally = Tally()
    fuzz_one((CORPUS / row["path"]).read_bytes(), tally)  # raises InvariantBroken
    assert tally.unverified == 0, tally.examples
    assert tally.cleaned + tally.refused == 1


def test_mutated_corpus_seeds_end_in_clean_outputs_or_refusals() -> None:
    small = [CORPUS / r["path"] for r in ROWS if int(r["bytes"]) < SEED_LIMIT]
    seeds = [path.read_bytes() for path in small]
    rng = random.Random(20260301)
    tally = Tally()
    for _ in range(300):
        fuzz_one(mutate(rng.choice(seeds), rng), tally)
    assert len(seeds) > 50 and tally.cleaned > 50 and tally.refused > 50
    assert tally.unverified == 0, tally.examples


def _twice(source: Path, folder: Path) -> tuple[Result, Result]:
    pipeline = Pipeline(Settings())
    first = clean_one(pipeline, source, folder / "once")
    assert first.status is Status.CLEANED and first.output is not None, first.reason
    second = clean_one(pipeline, first.output, folder / "twice")
    assert second.status is Status.CLEANED and second.output is not None, second.reason
    return first, second


@pytest.mark.parametrize("codec", ["heic", "avif"])
def test_transparent_heif_with_a_profile_becomes_a_stable_png(tmp_path: Path, codec: str) -> None:
    picture, source = synth.picture((64, 48), "RGBA"), tmp_path / f"alpha.{codec}"
    if codec == "heic":
        pillow_heif.from_pillow(picture).save(source, quality=90, icc_profile=synth.srgb_icc())
    else:
        picture.save(source, "AVIF", quality=90, icc_profile=synth.srgb_icc())
    first, second = _twice(source, tmp_path)
    assert first.output is not None and second.output is not None
    assert first.output.suffix == ".png" and first.reencoded
    assert second.output.read_bytes() == first.output.read_bytes()


def _tiff_with_overlong_strip(bigtiff: bool, pages: int) -> bytes:
    """A TIFF (tifffile's writer) whose first strip claims more bytes than the file holds,
    as a file cut and re-joined does: readers decode what is there."""
    pixels = np.asarray(synth.picture((64, 48)))
    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer, bigtiff=bigtiff) as writer:
        for page in range(pages):
            writer.write(np.rot90(pixels, 2 * page), photometric="rgb", rowsperstrip=8)
    data = bytearray(buffer.getvalue())
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as written:
        counts = written.pages.first.tags["StripByteCounts"]
    size, at = {3: 2, 4: 4, 16: 8}[int(counts.dtype)], counts.valueoffset
    old = int.from_bytes(data[at : at + size], "little")
    data[at : at + size] = (old + 60000).to_bytes(size, "little")
    return bytes(data)


@pytest.mark.parametrize("pages", [1, 3])
@pytest.mark.parametrize("bigtiff", [False, True], ids=["classic", "bigtiff"])
def test_damaged_tiff_is_re_encoded_once(tmp_path: Path, bigtiff: bool, pages: int) -> None:
    source = tmp_path / "cut.tif"
    source.write_bytes(_tiff_with_overlong_strip(bigtiff, pages))
    first, second = _twice(source, tmp_path)
    assert first.output is not None and second.output is not None
    assert first.reencoded and not second.reencoded
    assert same_pixels(source, first.output)
    assert second.output.read_bytes() == first.output.read_bytes()


@pytest.mark.parametrize("tag,typ,value", [(279, 6, 0xDB), (273, 8, 0xFFF0)], ids=["counts", "offsets"])
def test_tiff_strips_at_negative_places_are_refused(tmp_path: Path, tag: int, typ: int, value: int) -> None:
    """Fuzzer find on a corpus seed: a signed type for the strip byte counts (or offsets)
    gave negative lengths, which escaped as an internal error (struct.error)."""
    data = synth.tiny_tiff_with({tag: (typ, 1, value)})
    assert struct.unpack_from("<b" if typ == 6 else "<h", struct.pack("<I", value))[0] < 0
    (tmp_path / "n.tif").write_bytes(data)
    result = clean_one(Pipeline(Settings()), tmp_path / "n.tif", tmp_path / "out")
    assert result.status is Status.REFUSED and "negative" in result.reason, result.reason
    fuzz_one(data)


def _with_orientation(source: Path, typ: int, value: int) -> bytes:
    """A real TIFF whose Orientation entry is rewritten to one value of another type."""
    data = bytearray(source.read_bytes())
    with tifffile.TiffFile(source) as tiff:
        tag, order = tiff.pages.first.tags["Orientation"], tiff.byteorder
    struct.pack_into(order + "HI", data, tag.offset + 2, typ, 1)
    struct.pack_into(
        order + ("BBH" if typ == 1 else "HH"), data, tag.valueoffset, value, *([0, 0] if typ == 1 else [0])
    )
    return bytes(data)


@pytest.mark.parametrize(
    "typ,value,shown", [(3, 513, None), (3, 0, None), (1, 1, 1)], ids=["513", "zero", "byte-typed"]
)
def test_tiff_orientation_out_of_range_or_mistyped_still_verifies(
    tmp_path: Path, typ: int, value: int, shown: int | None
) -> None:
    """Fuzzer finds on a corpus seed: an Orientation no viewer applies was copied as it was,
    and a BYTE-typed one (which Pillow reads as bytes) too; both copies then failed
    verification. The first is dropped, the second written as the SHORT it should be."""
    source = tmp_path / "o.tif"
    source.write_bytes(_with_orientation(CORPUS / "tiff" / "pillow__g4_orientation_3.tif", typ, value))
    fuzz_one(source.read_bytes())  # raises on a broken invariant
    first, second = _twice(source, tmp_path)
    assert first.output is not None and second.output is not None
    record = exiftool_read([first.output])[str(first.output.resolve())]
    assert record.get("IFD0:Orientation") == shown
    assert second.output.read_bytes() == first.output.read_bytes()
