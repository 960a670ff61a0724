"""Hostile files: thousands of metadata segments, compressed text that inflates to
gigabytes, blocks nested without end. Each is cleaned (or refused with a reason) at a cost
bounded by its size, and the clean copy is as clean as any other.

No timings here (bench/hostile_bench.py has them): the tests count what the code does
(comparisons, inflated bytes, peak memory of the real command) and check the outputs.
"""

from __future__ import annotations

import ast
import io
import json
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from safeshare.findings import MAX_STORED_VALUE, Finding, Findings, Kind, Leak
from safeshare.formats import gif, jpeg, png, png_text, webp
from safeshare.metadata import exif, inflate, xmp
from tests import synth
from tests.conftest import json_lines, run_cli
from tests.helpers import ROOT, exiftool_read, residual_tags, same_pixels

MANY = 20_000
TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt"}


# Builders of hostile files ------------------------------------------------------------


def _plain(fmt: str) -> bytes:
    out = io.BytesIO()
    synth.picture((48, 32)).save(out, fmt)
    return out.getvalue()


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def jpeg_with(segments: Iterator[bytes] | list[bytes]) -> bytes:
    """A plain JPEG with `segments` right after its start marker."""
    data = _plain("JPEG")
    return data[:2] + b"".join(segments) + data[2:]


def comment_jpeg(count: int = MANY) -> bytes:
    return jpeg_with(_segment(0xFE, f"comment number {i}".encode()) for i in range(count))


def png_with(early: list[bytes], late: list[bytes] = []) -> bytes:  # noqa: B006 - never mutated
    """A plain PNG with `early` chunks after IHDR (where iCCP goes) and `late` ones after
    the image data (Pillow's reading of the headers stops before those)."""
    data = _plain("PNG")
    ihdr_end = 8 + 12 + 13
    iend = data.rindex(b"IEND") - 4
    return data[:ihdr_end] + b"".join(early) + data[ihdr_end:iend] + b"".join(late) + data[iend:]


def text_chunks(count: int = MANY, first: int = 0) -> list[bytes]:
    return [synth.png_chunk(b"tEXt", f"key{i}\0value {i}".encode()) for i in range(first, first + count)]


def bomb_chunks(count: int, size: int = 17 << 20) -> list[bytes]:
    """zTXt chunks that each inflate to `size` bytes (~17 KB each on disk)."""
    payload = zlib.compress(b"A" * size, 9)
    return [synth.png_chunk(b"zTXt", f"bomb{i}\0\0".encode() + payload) for i in range(count)]


def comment_gif(count: int = MANY) -> bytes:
    data = _plain("GIF")
    blocks = b"".join(
        b"\x21\xfe" + bytes([len(text)]) + text + b"\0"
        for text in (f"comment number {i}".encode() for i in range(count))
    )
    return data[:-1] + blocks + data[-1:]


def application_gif(count: int) -> bytes:
    data = _plain("GIF")
    blocks = b"".join(b"\x21\xff\x0b" + f"APP{i:08d}".encode() + b"\x03abc\0" for i in range(count))
    return data[:-1] + blocks + data[-1:]


def chunky_webp(count: int) -> bytes:
    """A WebP with `count` unknown chunks, each with its own name."""
    data = _plain("WEBP")
    chunks = b"".join(b"Z" + struct.pack(">I", i)[1:] + struct.pack("<I", 2) + b"ab" for i in range(count))
    body = data[12:] + chunks
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _tiff_with(tag: int, value: bytes) -> bytes:
    """A little-endian TIFF structure whose IFD0 holds one UNDEFINED tag."""
    return b"II*\0" + struct.pack("<IHHHII", 8, 1, tag, 7, len(value), 26) + b"\0\0\0\0" + value


def nested_photoshop_jpeg(depth: int) -> bytes:
    """APP13: Photoshop resources holding EXIF holding Photoshop resources... `depth` times,
    around an IPTC city."""
    iptc = b"\x1c\x02\x5a" + struct.pack(">H", len(synth.CITY)) + synth.CITY.encode()
    block = b"8BIM\x04\x04\0\0" + struct.pack(">I", len(iptc)) + iptc + b"\0" * (len(iptc) & 1)
    for _ in range(depth):
        tiff = _tiff_with(0x8649, block)
        block = b"8BIM\x04\x22\0\0" + struct.pack(">I", len(tiff)) + tiff + b"\0" * (len(tiff) & 1)
    return jpeg_with([_segment(0xED, b"Photoshop 3.0\0" + block)])


def exif_chain_jpeg(depth: int) -> bytes:
    """APP1 EXIF whose IFD0 points to an Exif IFD pointing to another... `depth` deep."""
    size = 2 + 12 + 4
    ifds = b"".join(
        struct.pack("<HHHII", 1, 0x8769, 4, 1, 8 + (i + 1) * size) + b"\0\0\0\0" for i in range(depth)
    )
    tiff = b"II*\0" + struct.pack("<I", 8) + ifds + b"\0\0\0\0\0\0"
    return jpeg_with([_segment(0xE1, b"Exif\0\0" + tiff)])


# Reading the outputs ------------------------------------------------------------------


def jpeg_markers(data: bytes) -> list[int]:
    """The markers of the segments before the first scan."""
    markers, pos = [], 2
    while data[pos + 1] != 0xDA:
        markers.append(data[pos + 1])
        pos += 2 + struct.unpack_from(">H", data, pos + 2)[0]
    return markers


def png_chunk_types(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        length = struct.unpack_from(">I", data, pos)[0]
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def clean_cli(tmp_path: Path, name: str, data: bytes) -> tuple[dict[str, object], Path, bytes]:
    """`safeshare clean --json` on one file: its JSON line, the input, the output's bytes."""
    source = tmp_path / name
    source.write_bytes(data)
    proc = run_cli("clean", str(source), "--output", str(tmp_path / "out"), "--json", cwd=ROOT)
    (line,) = json_lines(proc.stdout)
    output = Path(str(line["output"])) if line.get("output") else None
    return line, source, output.read_bytes() if output is not None else b""


def assert_nothing_left(output: Path) -> None:
    record = exiftool_read([output])[str(output.resolve())]
    assert residual_tags(record) == []


def peak_rss_mb(args: list[str]) -> tuple[int, float]:
    """(exit code, peak resident MB) of the real command, run from a fresh interpreter:
    getrusage(RUSAGE_CHILDREN) there counts that command (and its workers) only."""
    script = (
        "import json, resource, subprocess, sys\n"
        "quiet = {'stdout': subprocess.DEVNULL, 'stderr': subprocess.DEVNULL}\n"
        "code = subprocess.run(sys.argv[1:], **quiet).returncode\n"
        "print(json.dumps([code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))\n"
    )
    command = [sys.executable, "-m", "safeshare", args[0], "--no-vision", *args[1:]]
    proc = subprocess.run(
        [sys.executable, "-c", script, *command], capture_output=True, text=True, check=True, cwd=ROOT
    )
    code, peak_kb = json.loads(proc.stdout)
    return code, peak_kb / 1024


@pytest.fixture
def equality_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the comparisons of findings (a de-duplication by list scan makes n^2/2)."""
    calls = [0]
    original = Finding.__eq__

    def counting(self: Finding, other: object) -> bool:
        calls[0] += 1
        return original(self, other)

    monkeypatch.setattr(Finding, "__eq__", counting)
    return calls


# 1. Findings are de-duplicated in constant time --------------------------------------


def test_findings_deduplicate_without_comparing_against_every_earlier_one(equality_checks: list[int]) -> None:
    found = Findings()
    for i in range(5000):
        found.add(Kind.TEXT, "comment", f"number {i}", "JPEG comment")
    found.add(Kind.TEXT, "comment", "number 7", "JPEG comment")  # a duplicate, dropped
    found.extend(Findings([Finding(Kind.TEXT, "comment", "number 9", "JPEG comment")]))
    assert len(found) == 5000
    assert equality_checks[0] < 100  # a list scan: 12.5 million


def test_findings_keep_their_order_and_their_interface() -> None:
    found = Findings()
    found.add(Kind.SOFTWARE, "software", "  Editor 1.0 ", "EXIF")
    found.add(Kind.GPS, "GPS position", "48.8584 N, 2.2945 E", "EXIF GPS")
    found.add(Kind.SOFTWARE, "software", "Editor 1.0", "EXIF")  # the same once stripped
    other = Findings()
    other.add(Kind.GPS, "GPS position", "48.8584 N, 2.2945 E", "EXIF GPS")
    other.add(Kind.NAME, "artist", "Jane", "EXIF")
    found.extend(other)
    assert [f.what for f in found] == ["software", "GPS position", "artist"]
    assert [f.what for f in found.items] == ["software", "GPS position", "artist"]
    assert list(found.by_leak()) == [Leak.LOCATION, Leak.PERSON, Leak.SOFTWARE]
    assert found.summary_lines()[0] == "location: GPS position 48.8584 N, 2.2945 E [EXIF GPS]"
    assert found.categories() == ["gps", "name", "software"]
    copy = Findings(list(found))  # built from items: they count as seen
    copy.add(Kind.NAME, "artist", "Jane", "EXIF")
    assert copy.items == found.items


def test_a_huge_value_is_kept_cut_and_marked() -> None:
    found = Findings()
    found.add(Kind.TEXT, "comment", "  " + "x" * 10_000_000 + "  ")
    (finding,) = found
    assert len(finding.value) <= MAX_STORED_VALUE + 3 and finding.value.endswith("...")
    assert finding.describe().startswith("comment xxx") and len(finding.describe()) < 200


def test_long_comments_are_not_kept_whole() -> None:
    data = jpeg_with([_segment(0xFE, b"c" * 65000)] * 3 + [_segment(0xFE, b"d" * 65000)])
    found = jpeg.parse(data).findings
    assert [f.value[:1] for f in found] == ["c", "d"]
    assert all(len(f.value) <= MAX_STORED_VALUE + 3 for f in found)


PARSERS: dict[str, tuple[Callable[[bytes], Findings], Callable[[int], bytes]]] = {
    "JPEG COM": (lambda d: jpeg.parse(d).findings, comment_jpeg),
    "JPEG APPn": (
        lambda d: jpeg.parse(d).findings,
        lambda n: jpeg_with(_segment(0xE5, f"Vendor{i}\0data".encode()) for i in range(n)),
    ),
    "PNG tEXt": (lambda d: png.parse(d).findings, lambda n: png_with(text_chunks(n))),
    "PNG zTXt": (
        lambda d: png.parse(d).findings,
        lambda n: png_with(
            [synth.png_chunk(b"zTXt", f"k{i}\0\0".encode() + zlib.compress(b"v%d" % i)) for i in range(n)]
        ),
    ),
    "PNG iTXt": (
        lambda d: png.parse(d).findings,
        lambda n: png_with([synth.png_chunk(b"iTXt", f"k{i}\0\0\0\0\0v{i}".encode()) for i in range(n)]),
    ),
    "GIF comments": (lambda d: gif.parse(d).findings, comment_gif),
    "GIF applications": (lambda d: gif.parse(d).findings, application_gif),
    "WebP chunks": (lambda d: webp.parse(d).findings, chunky_webp),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_parsers_compare_findings_a_bounded_number_of_times(name: str, equality_checks: list[int]) -> None:
    parse, build = PARSERS[name]
    found = parse(build(3000))
    assert len(found) >= 3000  # every segment is reported, each with its own value
    assert equality_checks[0] < 3000  # a list scan: 4.5 million


def test_twenty_thousand_comment_segments_are_cleaned_and_all_reported(tmp_path: Path) -> None:
    data = comment_jpeg()
    line, source, out = clean_cli(tmp_path, "comments.jpg", data)
    assert line["status"] == "cleaned", line
    assert 0xFE not in jpeg_markers(out)
    assert same_pixels(data, out)
    assert_nothing_left(Path(str(line["output"])))
    (report,) = json_lines(run_cli("inspect", str(source), "--json").stdout)
    comments = [f["value"] for f in report["carries"] if f["what"] == "comment"]
    assert comments == [f"comment number {i}" for i in range(MANY)]


def test_twenty_thousand_text_chunks_are_cleaned(tmp_path: Path) -> None:
    data = png_with(text_chunks(MANY // 2), text_chunks(MANY // 2, first=MANY // 2))
    line, _, out = clean_cli(tmp_path, "text.png", data)
    assert line["status"] == "cleaned", line
    assert not TEXT_CHUNKS & set(png_chunk_types(out))
    assert same_pixels(data, out)
    assert_nothing_left(Path(str(line["output"])))


def test_twenty_thousand_gif_comments_are_cleaned(tmp_path: Path) -> None:
    data = comment_gif()
    line, _, out = clean_cli(tmp_path, "comments.gif", data)
    assert line["status"] == "cleaned", line
    assert b"comment number" not in out
    assert same_pixels(data, out)
    assert_nothing_left(Path(str(line["output"])))


# 2. One budget per file for all inflation ---------------------------------------------


def test_inflation_stops_at_the_file_budget_and_the_rest_is_reported() -> None:
    layout = png.parse(png_with([], bomb_chunks(8)))
    assert layout.budget.used == inflate.FILE_BUDGET  # 2 chunks of 16 MB, not 8 of them
    not_read = [f for f in layout.findings if f.what == png_text.NOT_READ]
    assert [f.value.split(",")[0] for f in not_read] == [f"'bomb{i}'" for i in range(2, 8)]


def test_zip_bombs_in_text_are_removed_without_being_inflated(tmp_path: Path) -> None:
    """256 zTXt chunks of 17 MB each: 4.3 GB if inflated (the process was OOM-killed)."""
    source = tmp_path / "bombs.png"
    source.write_bytes(png_with([], bomb_chunks(256)))
    size_mb = source.stat().st_size / 2**20
    code, peak_mb = peak_rss_mb(["clean", str(source), "--output", str(tmp_path / "out")])
    assert code == 0
    assert peak_mb < size_mb + 256
    output = tmp_path / "out" / "bombs.png"
    assert not TEXT_CHUNKS & set(png_chunk_types(output.read_bytes()))
    assert same_pixels(_plain("PNG"), output)  # Pillow refuses to decode the bombs themselves
    assert_nothing_left(output)
    (report,) = json_lines(run_cli("inspect", str(source), "--json").stdout)
    assert sum(f["what"] == png_text.NOT_READ for f in report["carries"]) == 254


def test_an_over_budget_colour_profile_refuses_the_file(tmp_path: Path) -> None:
    """34 zTXt chunks of 1 MB (each under Pillow's own limit) spend the budget before the
    colour profile: the file is refused rather than cleaned with other colours."""
    profile = zlib.compress(synth.srgb_icc())
    iccp = synth.png_chunk(b"iCCP", b"ICC profile\0\0" + profile)
    data = png_with([*bomb_chunks(34, 1_000_000), iccp])
    line, source, out = clean_cli(tmp_path, "budget.png", data)
    assert line["status"] != "cleaned" and not out
    assert "colour profile" in str(line["reason"]) and "budget" in str(line["reason"])
    (report,) = json_lines(run_cli("inspect", str(source), "--json").stdout)
    assert png.ICC_NOT_READ in [f["what"] for f in report["carries"]]


def test_a_colour_profile_within_the_budget_is_kept(tmp_path: Path) -> None:
    profile = zlib.compress(synth.srgb_icc())
    iccp = synth.png_chunk(b"iCCP", b"ICC profile\0\0" + profile)
    data = png_with([*bomb_chunks(3, 1_000_000), iccp], bomb_chunks(40, 1_000_000))
    line, _, out = clean_cli(tmp_path, "kept.png", data)
    assert line["status"] == "cleaned", line
    assert png_chunk_types(out).count(b"iCCP") == 1
    assert Image.open(io.BytesIO(out)).info.get("icc_profile")


def test_xmp_elements_have_a_budget_per_file_too() -> None:
    """16 MB of '<a/>' inflates from 16 KB: a million-element tree of 1 GB if parsed whole."""
    big = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:a="http://a/" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:title="T">'
        b"<a:b>" + b"<a/>" * 4_000_000 + b"</a:b></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    chunk = synth.png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\x01\0\0\0" + zlib.compress(big, 9))
    layout = png.parse(png_with([], [chunk, chunk]))
    whats = [f.what for f in layout.findings]
    assert xmp.READ_IN_PART in whats and xmp.NOT_READ in whats
    assert "title" in whats  # what was read is still reported
    assert layout.budget.xmp_elements == 0


# 3. Blocks nested without end ---------------------------------------------------------


@pytest.mark.parametrize(
    "build", [nested_photoshop_jpeg, exif_chain_jpeg], ids=["photoshop-exif", "exif-ifds"]
)
def test_endlessly_nested_metadata_is_reported_not_followed(
    tmp_path: Path, build: Callable[[int], bytes]
) -> None:
    """A 15 KB segment used to end in RecursionError ('internal error')."""
    data = build(400)
    line, _, out = clean_cli(tmp_path, "nested.jpg", data)
    assert line["status"] == "cleaned", line
    assert not {0xE1, 0xED} & set(jpeg_markers(out))
    assert same_pixels(data, out)
    assert_nothing_left(Path(str(line["output"])))
    whats = [f.what for f in jpeg.parse(data).findings]
    assert exif.NESTED_NOT_READ in whats or "unreadable EXIF directory" in whats


def test_nesting_within_the_limits_is_read() -> None:
    """Photoshop > EXIF > Photoshop > EXIF > Photoshop > IPTC: deeper than real files go."""
    found = jpeg.parse(nested_photoshop_jpeg(2)).findings
    assert [(f.what, f.value) for f in found] == [("city", synth.CITY)]
    assert exif.NESTED_NOT_READ in [f.what for f in jpeg.parse(nested_photoshop_jpeg(3)).findings]


# 4. No import cycle in metadata/ ------------------------------------------------------


def test_metadata_modules_import_each_other_without_a_cycle() -> None:
    folder = ROOT / "daemon" / "safeshare" / "metadata"
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):  # function-level imports too
            if isinstance(node, ast.ImportFrom) and node.module == "safeshare.metadata":
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("safeshare.metadata."):
                imported.add((node.module or "").rsplit(".", 1)[1])
        graph[path.stem] = imported

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ())
        )

    assert [name for name in graph if reaches(name, name, set())] == []
    assert "exif" not in graph["iptc"]
