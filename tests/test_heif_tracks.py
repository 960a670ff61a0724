"""Which track of an animated AVIF is shown, and what its 'moov' box gives away.

libavif (Pillow's AVIF reader) decodes the first track with an 'av01' sample entry and no
'auxl' reference, whatever its handler; the clean aperture in that track's sample entry is
what viewers crop to. We apply the same rule, and refuse what it would settle differently
from us (a second AV1 track, a handler that is not a picture's). Inputs are real animated
AVIFs (Pillow's libavif encoder) edited with tests/isobmff_moov.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from safeshare.errors import UnsupportedFormat
from safeshare.findings import Kind
from safeshare.pipeline import Status
from tests import isobmff_edit as edit
from tests import isobmff_moov as moov
from tests import synth
from tests.test_heif_sequences import clean, pillow_avif

CLAP = edit.clap((48, 1), (64, 1))  # the middle half of a 96x64 picture


def with_clap(data: bytes) -> bytes:
    return moov.edited(data, moov.sample_entry_path(), moov.appended(CLAP))


def assert_cropped(tmp_path: Path, data: bytes) -> None:
    result = clean(tmp_path, "anim.avif", data)
    assert result.status is Status.CLEANED, result.reason
    assert result.output is not None
    out = Image.open(result.output)
    assert out.size == (48, 64) and getattr(out, "n_frames", 1) > 1
    first = Image.open(io.BytesIO(data)).convert("RGB").crop((24, 0, 72, 64))
    assert out.convert("RGB").tobytes() == first.tobytes()  # the aperture, losslessly


def test_the_track_clean_aperture_crops_the_animation(tmp_path: Path) -> None:
    assert_cropped(tmp_path, with_clap(pillow_avif(6)))


def test_a_box_the_decoder_does_not_read_does_not_lose_the_track(tmp_path: Path) -> None:
    """A 1-byte 'hdlr' inside 'edts' (libavif reads only 'elst' there): still cropped."""
    data = moov.edited(with_clap(pillow_avif(6)), ["trak", "edts"], moov.appended(edit.box("hdlr", b"\0")))
    assert_cropped(tmp_path, data)


@pytest.mark.parametrize("handler", [b"soun", b"auxv", b"meta"])
def test_an_av1_track_with_another_handler_is_refused(tmp_path: Path, handler: bytes) -> None:
    """libavif shows it (and its clean aperture) whatever the handler says: refused."""
    data = edit.set_handler(with_clap(pillow_avif(6)), b"pict", handler)
    result = clean(tmp_path, "anim.avif", data)
    assert result.status is Status.REFUSED and result.problem is UnsupportedFormat
    assert f"handler '{handler.decode()}'" in result.reason


def test_two_av1_tracks_are_refused(tmp_path: Path) -> None:
    """Which one a viewer shows is not ours to guess (the first has the clean aperture)."""
    data = moov.with_second_track(pillow_avif(6))
    result = clean(tmp_path, "anim.avif", with_clap(data))
    assert result.status is Status.REFUSED and result.problem is UnsupportedFormat
    assert "2 AV1 picture tracks" in result.reason


def test_a_sample_entry_overrunning_its_box_is_refused(tmp_path: Path) -> None:
    """A box reader that gives up must not publish the uncropped picture."""
    data = with_clap(pillow_avif(6))
    at = data.rindex(b"clap") - 4
    data = data[:at] + (40 + 8).to_bytes(4, "big") + data[at + 4 :]  # 'clap' claims 8 more bytes
    result = clean(tmp_path, "anim.avif", data)
    assert result.status is Status.REFUSED, result.reason


def test_frames_longer_than_apng_can_say_are_kept_with_a_note(tmp_path: Path) -> None:
    pictures = [synth.picture((96, 64)).rotate(40 * i) for i in range(3)]
    out = io.BytesIO()
    durations = [100_000_000, 40, 70_001_000]  # 100,000 s and 70,001 s: over APNG's 65,535 s
    pictures[0].save(out, "AVIF", save_all=True, append_images=pictures[1:], duration=durations)
    result = clean(tmp_path, "slow.avif", out.getvalue())
    assert result.status is Status.CLEANED, result.reason
    assert result.output is not None
    shown = Image.open(result.output)
    assert shown.n_frames == 3
    assert any("rounded to whole seconds (at most 65,535 s" in note for note in result.notes)
    shown.seek(0)
    assert shown.info["duration"] == 65_535_000


def test_movie_user_data_is_reported_with_its_values(tmp_path: Path) -> None:
    """Location ('\xa9xyz', ISO 'loci'), camera make and model, creation time: said as such."""
    udta = edit.box(
        "udta",
        moov.quicktime_string("\xa9xyz", "+37.7749-122.4194/")
        + moov.loci("Home", 37.5, -122.25)
        + moov.quicktime_string("\xa9mak", "Apple")
        + moov.quicktime_string("\xa9mod", "iPhone 15"),
    )
    data = moov.edited(pillow_avif(6), [], moov.appended(udta))
    result = clean(tmp_path, "anim.avif", data)
    assert result.status is Status.CLEANED, result.reason
    found = {(f.kind, f.value) for f in result.findings}
    assert (Kind.GPS, "+37.7749-122.4194/") in found
    assert (Kind.GPS, "Home (37.50000, -122.25000)") in found
    assert {(Kind.DEVICE, "Apple"), (Kind.DEVICE, "iPhone 15")} <= found
    times = [f.value for f in result.findings if f.kind is Kind.TIMESTAMP]
    assert times and all(value.endswith("UTC") for value in times)
