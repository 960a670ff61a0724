"""Image sequences (AVIF 'avis', HEIF 'msf1') are said to be sequences, never appended data.

Animated AVIFs are written by real encoders (Pillow's libavif, ffmpeg's libaom).
An animation is kept as a lossless animated PNG: every frame, over time, shows exactly
the decoded input frame (ffprobe counts frames on both sides, as an independent reader).
One too large to keep, or a HEIF sequence (which libheif here cannot decode), is published
as its first frame or still image with a note saying so. HEIF sequences are built from a
real x265 track (ffmpeg) and a real HEIC still (pillow-heif), laid out as such files are.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageSequence

from safeshare.batch import clean_one
from safeshare.errors import UnsupportedFormat, VerificationError
from safeshare.findings import Kind, Leak
from safeshare.formats import CleanOptions
from safeshare.formats.heif import Avif
from safeshare.pipeline import Pipeline, Result, Settings, Status
from safeshare.verify import verify_output
from tests import isobmff_edit as edit
from tests import synth
from tests.helpers import psnr

FFMPEG, FFPROBE = shutil.which("ffmpeg"), shutil.which("ffprobe")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None or FFPROBE is None, reason="ffmpeg/ffprobe not installed")


def clean(tmp_path: Path, name: str, data: bytes) -> Result:
    source = tmp_path / "in" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    return clean_one(Pipeline(Settings()), source, tmp_path / "out")


def ffmpeg(tmp_path: Path, *args: str) -> bytes:
    """What ffmpeg writes (to a file: the AVIF and MP4 muxers seek back) for `args`."""
    assert FFMPEG is not None
    path = tmp_path / "ffmpeg.out"
    command = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)]
    subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=300)
    return path.read_bytes()


def ffprobe_frames(data: bytes, tmp_path: Path) -> tuple[str, int]:
    """(codec, frames) as ffprobe decodes them: an independent count."""
    assert FFPROBE is not None
    path = tmp_path / "probe.bin"
    path.write_bytes(data)
    entries = ("-show_entries", "stream=codec_name,nb_read_frames", "-of", "json")
    command = [FFPROBE, "-v", "error", "-count_frames", "-select_streams", "v:0", *entries, str(path)]
    out = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    stream = json.loads(out.stdout)["streams"][0]
    return stream["codec_name"], int(stream["nb_read_frames"])


def timeline(data: bytes) -> list[tuple[bytes, int]]:
    """Each frame's pixels and for how long they show, identical neighbours joined."""
    shown: list[tuple[bytes, int]] = []
    for frame in ImageSequence.Iterator(Image.open(io.BytesIO(data))):
        pixels = frame.convert("RGBA").tobytes()
        duration = int(frame.info.get("duration", 0))
        if shown and shown[-1][0] == pixels:
            shown[-1] = (pixels, shown[-1][1] + duration)
        else:
            shown.append((pixels, duration))
    return shown


def pillow_avif(frames: int, mode: str = "RGB", repeat: bool = True) -> bytes:
    """An animated AVIF from Pillow's libavif encoder: turning frames, varied durations."""
    pictures = [synth.picture((96, 64), mode).rotate(9 * i) for i in range(frames)]
    pictures[3] = pictures[2].copy()  # a still moment, as real animations have
    out = io.BytesIO()
    durations = [40 + 20 * (i % 3) for i in range(frames)]
    pictures[0].save(out, "AVIF", save_all=True, append_images=pictures[1:], duration=durations, quality=90)
    data = out.getvalue()
    return data if repeat else edit.set_edit_list_flags(data, 0)


def no_appended_data(result: Result) -> None:
    leaks = {f.leak for f in result.findings}
    assert Leak.APPENDED not in leaks, [f.describe() for f in result.findings]
    assert not result.findings.kinds() & {Kind.VIDEO, Kind.TRAILER}


def assert_animation_kept(result: Result, data: bytes, tmp_path: Path) -> bytes:
    assert result.status is Status.CLEANED, result.reason
    assert result.output is not None and result.output.suffix == ".png"
    out = result.output.read_bytes()
    frames = Image.open(io.BytesIO(data)).n_frames
    assert frames > 1
    assert ffprobe_frames(data, tmp_path)[1] == frames  # the input really has them
    assert timeline(out) == timeline(data)  # lossless: every frame, for as long
    no_appended_data(result)
    assert f"animation of {frames} frames kept, as a lossless animated PNG" in result.notes
    return out


@needs_ffmpeg
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_an_animated_avif_keeps_its_animation(tmp_path: Path, mode: str) -> None:
    data = pillow_avif(8, mode)
    assert data[8:12] == b"avis"
    out = assert_animation_kept(clean(tmp_path, "anim.avif", data), data, tmp_path)
    codec, count = ffprobe_frames(out, tmp_path)
    assert codec == "apng" and count == len(timeline(data))
    animation = Image.open(io.BytesIO(out))
    assert animation.mode == mode and animation.info["loop"] == 0  # libavif's "forever"


@needs_ffmpeg
def test_an_ffmpeg_avif_sequence_keeps_its_animation(tmp_path: Path) -> None:
    data = ffmpeg(
        tmp_path,
        *("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-frames:v", "24"),
        *("-c:v", "libaom-av1", "-cpu-used", "8", "-crf", "30", "-pix_fmt", "yuv420p", "-f", "avif"),
    )
    assert_animation_kept(clean(tmp_path, "clip.avif", data), data, tmp_path)


@needs_ffmpeg
def test_a_sequence_that_plays_once_still_plays_once(tmp_path: Path) -> None:
    """The edit list says whether the sequence repeats; the APNG says the same."""
    data = pillow_avif(6, repeat=False)
    out = assert_animation_kept(clean(tmp_path, "once.avif", data), data, tmp_path)
    assert Image.open(io.BytesIO(out)).info["loop"] == 1


@needs_ffmpeg
def test_a_sequence_too_large_to_keep_is_its_first_frame_and_says_so(tmp_path: Path) -> None:
    """95 frames of 920x736 (64.3 million pixels together): the first frame, with a note."""
    data = ffmpeg(
        tmp_path,
        *("-f", "lavfi", "-i", "testsrc=size=920x736:rate=24", "-frames:v", "95"),
        *("-c:v", "libaom-av1", "-cpu-used", "8"),
        *("-crf", "50", "-pix_fmt", "yuv420p", "-f", "avif"),
    )
    assert ffprobe_frames(data, tmp_path)[1] == 95
    result = clean(tmp_path, "long.avif", data)
    assert result.status is Status.CLEANED, result.reason
    assert result.output is not None and result.output.suffix == ".jpg"
    assert any(n.startswith("animation of 95 frames: only the first frame kept") for n in result.notes)
    first = next(ImageSequence.Iterator(Image.open(io.BytesIO(data)))).convert("RGB")
    assert psnr(first, Image.open(result.output)) >= 40
    no_appended_data(result)


def heif_track(tmp_path: Path) -> bytes:
    """12 frames of x265 HEVC in an MP4 that calls itself 'msf1' (ffmpeg)."""
    return ffmpeg(
        tmp_path,
        *("-f", "lavfi", "-i", "testsrc=size=128x96:rate=10", "-frames:v", "12"),
        *("-c:v", "libx265", "-x265-params", "log-level=error", "-preset", "ultrafast", "-tag:v", "hvc1"),
        *("-pix_fmt", "yuv420p", "-brand", "msf1", "-f", "mp4"),
    )


@needs_ffmpeg
def test_a_heif_sequence_with_a_still_image_is_that_image_and_says_so(tmp_path: Path) -> None:
    """libheif (pillow-heif) decodes no sequences: the still is published, the frames named."""
    import pillow_heif

    still = io.BytesIO()
    pillow_heif.from_pillow(synth.picture((128, 96))).save(still, quality=90)
    track = edit.set_handler(heif_track(tmp_path), b"vide", b"pict")
    data = edit.with_sequence(still.getvalue(), track, [b"msf1", b"mif1", b"heic", b"hevc"])
    assert ffprobe_frames(data, tmp_path) == ("hevc", 12)
    result = clean(tmp_path, "burst.heic", data)
    assert result.status is Status.CLEANED, result.reason
    assert result.output is not None and result.output.suffix == ".jpg"
    assert "animation of 12 frames: only the still image kept (libheif here decodes no image sequences)" in (
        result.notes
    )
    assert psnr(Image.open(io.BytesIO(still.getvalue())), Image.open(result.output)) >= 40
    no_appended_data(result)


@needs_ffmpeg
def test_a_heif_sequence_without_a_still_image_is_refused_as_unsupported(tmp_path: Path) -> None:
    """Not "truncated" (the daemon would retry it for ever): a kind of file we cannot read."""
    result = clean(tmp_path, "clip.heic", heif_track(tmp_path))
    assert result.status is Status.REFUSED
    assert result.problem is UnsupportedFormat
    assert "image sequence" in result.reason


def test_the_verifier_holds_an_animation_to_its_frames(tmp_path: Path) -> None:
    """A copy that lost frames is not published: the verifier counts them."""
    data = pillow_avif(6)
    clean_copy = Avif().clean(data, CleanOptions())
    assert clean_copy.format == "PNG" and clean_copy.frames == len(timeline(data))
    first = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(first, "PNG")
    path = tmp_path / "first.png"
    path.write_bytes(first.getvalue())
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(VerificationError, match="frames"):
            verify_output(fd, clean_copy, None, 10**8)
    finally:
        os.close(fd)
