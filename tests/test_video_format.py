"""The video cleaner's own promises, beyond what tests/test_video_corpus.py checks with the
independent readers: hostile and broken movies are refused with one line, a file is never
read into memory for its media data, a file that changes while it is copied is not
published, 64-bit layouts are written when offsets need them, and what the notification
says about a video is true."""

from __future__ import annotations

import gc
import os
import random
import shutil
import struct
from pathlib import Path

import pytest

from safeshare import messages
from safeshare.errors import InputError
from safeshare.formats import by_name, detect
from safeshare.formats import video as video_format
from safeshare.formats.isobmff import boxes
from safeshare.formats.video_load import load
from safeshare.formats.video_tracks import read_tracks
from safeshare.outdir import OutputFolder
from safeshare.pipeline import Pipeline, Prepared, Result, Settings, Status
from tests import videotools as vt
from tests.helpers import ROOT

CORPUS = ROOT / "tests" / "corpus" / "video"
PHONE = CORPUS / "mp4_with-gps.mp4"  # moov last, a video and an audio track
GOPRO = CORPUS / "gopro_karma.mp4"  # telemetry tracks interleaved with the frames
IPHONE = CORPUS / "mov_with-gps.mov"


def _clean(source: Path, out: Path) -> Result:
    result: Result = vt.clean_in_process(source, out)
    return result


def _top(data: bytes) -> dict[str, tuple[int, int, int]]:
    return {b.type: (b.start, b.body, b.end) for b in boxes(data, 0, len(data), top=True)}


def test_the_media_data_is_never_read_into_memory() -> None:
    """load() maps the file's size but reads only headers and the edges of each chunk: the
    middle of the media data stays unread (zero pages, no memory)."""
    data = GOPRO.read_bytes()
    fd = os.open(GOPRO, os.O_RDONLY)
    try:
        sparse = load(fd, len(data))
    finally:
        os.close(fd)
    try:
        moov = _top(data)["moov"]
        assert sparse[moov[0] : moov[2]] == data[moov[0] : moov[2]]  # the header is all there
        unread = 0
        for track in read_tracks(sparse, boxes(sparse, moov[0], moov[2])[0]):
            for offset, length in track.chunks if track.kept else ():
                edge = min(16, length)
                assert sparse[offset : offset + edge] == data[offset : offset + edge]
                assert (
                    sparse[offset + length - edge : offset + length]
                    == data[offset + length - edge : offset + length]
                )
                middle = slice(offset + 16, offset + length - 16)
                if length > 32 and data[middle].strip(b"\0"):
                    assert not sparse[middle].strip(b"\0")  # never read
                    unread += length - 32
        assert unread > len(data) // 2
    finally:
        sparse.close()


def test_a_streamed_copy_equals_the_copy_made_in_memory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _clean(GOPRO, out)
    assert result.ok, result.reason
    in_memory = by_name("MP4").clean(GOPRO.read_bytes(), video_format.CleanOptions())
    assert result.output is not None
    assert result.output.read_bytes() == b"".join(bytes(p) for p in in_memory.parts)  # type: ignore[arg-type]


def test_telemetry_samples_between_the_frames_are_not_copied(tmp_path: Path) -> None:
    result = _clean(GOPRO, tmp_path / "out")
    assert result.ok and result.output is not None
    data, copy = GOPRO.read_bytes(), result.output.read_bytes()
    moov = _top(data)["moov"]
    telemetry = [t for t in read_tracks(data, boxes(data, moov[0], moov[2])[0]) if not t.kept]
    samples = [data[o : o + n] for t in telemetry for o, n in t.chunks if n >= 64]
    assert samples and not any(s in copy for s in samples)
    assert len(copy) < len(data) - sum(len(s) for s in samples)


def test_a_file_that_changes_while_it_is_copied_is_not_published(tmp_path: Path) -> None:
    source = tmp_path / "VID.mp4"
    shutil.copyfile(PHONE, source)
    prepared = Pipeline(Settings()).prepare(source)
    assert isinstance(prepared, Prepared)
    with source.open("ab") as handle:  # still being written, or replaced, meanwhile
        handle.write(b"\0" * 100)
    staged = prepared.stage(OutputFolder(tmp_path / "out"), Path())
    assert isinstance(staged, Result) and staged.status is Status.REFUSED
    assert "changed while it was being copied" in staged.reason
    assert list((tmp_path / "out").iterdir()) == []  # no temp file left


def test_a_file_cut_short_while_it_is_copied_is_not_published(tmp_path: Path) -> None:
    source = tmp_path / "VID.mp4"
    shutil.copyfile(PHONE, source)
    prepared = Pipeline(Settings()).prepare(source)
    assert isinstance(prepared, Prepared)
    os.truncate(source, 1000)  # the media data is gone before it is copied
    staged = prepared.stage(OutputFolder(tmp_path / "out"), Path())
    assert isinstance(staged, Result) and not staged.ok
    assert list((tmp_path / "out").iterdir()) == []


def test_videos_prepared_and_dropped_leave_no_file_open(tmp_path: Path) -> None:
    fds = len(list(Path("/proc/self/fd").iterdir()))
    pipeline = Pipeline(Settings())
    for _ in range(50):
        prepared = pipeline.prepare(PHONE)
        assert isinstance(prepared, Prepared)
        del prepared  # a duplicate the daemon does not stage
    gc.collect()
    assert len(list(Path("/proc/self/fd").iterdir())) <= fds + 1


def test_offsets_past_4_gib_get_64_bit_tables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The 64-bit layout, forced by a lower limit (a 4 GiB file does not fit in a test):
    'co64' chunk offsets and a 64-bit media data size, read by ffmpeg to the same frames."""
    vt.require_tools("ffmpeg", "ffprobe")
    monkeypatch.setattr(video_format, "LIMIT_32", 1000)
    result = _clean(PHONE, tmp_path / "out")
    assert result.ok, result.reason
    assert result.output is not None
    copy = result.output.read_bytes()
    assert b"co64" in copy and b"stco" not in copy
    start, body, _ = _top(copy)["mdat"]
    assert struct.unpack_from(">I", copy, start)[0] == 1 and body - start == 16
    assert vt.frame_problems(PHONE, result.output) == []


def test_the_movie_header_stays_first_when_it_was_first(tmp_path: Path) -> None:
    vt.require_tools("ffmpeg")
    first = tmp_path / "first.mp4"
    vt._run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(PHONE),
            "-map",
            "0",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            str(first),
        ]
    )
    kinds = list(_top(first.read_bytes()))
    assert kinds.index("moov") < kinds.index("mdat") and "moov" in list(_top(PHONE.read_bytes()))[-1:]
    for source in (PHONE, first):
        result = _clean(source, tmp_path / source.stem)
        assert result.ok and result.output is not None
        was = list(_top(source.read_bytes()))
        now = list(_top(result.output.read_bytes()))
        assert (was.index("moov") < was.index("mdat")) == (now.index("moov") < now.index("mdat"))


def _stco_offsets(data: bytes) -> list[int]:
    pos, found = 0, []
    while (pos := data.find(b"stco", pos + 1)) > 0:
        count = struct.unpack_from(">I", data, pos + 8)[0]
        found.append(pos + 12 if count else -1)
    return [p for p in found if p > 0]


def test_a_chunk_outside_the_media_data_is_refused() -> None:
    data = bytearray(PHONE.read_bytes())
    table = _stco_offsets(bytes(data))[0]
    struct.pack_into(">I", data, table, 8)  # the first chunk 'lies' in the file type box
    with pytest.raises(InputError, match="outside the media data"):
        by_name("MP4").clean(bytes(data), video_format.CleanOptions())


def test_two_tracks_sharing_media_data_are_refused() -> None:
    data = bytearray(PHONE.read_bytes())
    video, audio = _stco_offsets(bytes(data))[:2]
    struct.pack_into(">I", data, audio, struct.unpack_from(">I", data, video)[0])
    with pytest.raises(InputError, match="share the same media data"):
        by_name("MP4").clean(bytes(data), video_format.CleanOptions())


def test_media_kept_in_another_file_is_refused() -> None:
    data = PHONE.read_bytes()
    pos = data.find(b"url ")
    assert pos > 0
    changed = bytearray(data)
    changed[pos + 7] = 0  # flags: not in this file
    with pytest.raises(InputError, match="in another file"):
        by_name("MP4").clean(bytes(changed), video_format.CleanOptions())


@pytest.mark.parametrize("source", [PHONE, GOPRO], ids=lambda p: p.name)
def test_broken_movies_are_refused_with_one_line_never_a_crash(source: Path) -> None:
    """Cut anywhere, or bytes of the movie header changed at random: cleaned (and then the
    copy re-reads clean) or refused with a one-line reason; never another exception."""
    data = source.read_bytes()
    moov = _top(data)["moov"]
    fmt = by_name("MP4")
    rng = random.Random(18)
    cases = [data[:n] for n in range(0, len(data), len(data) // 40)]
    for _ in range(150):
        changed = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            changed[rng.randrange(moov[0], moov[2])] = rng.randrange(256)
        cases.append(bytes(changed))
    refused = 0
    for case in cases:
        try:
            fmt.inspect(case)
            cleaned = fmt.clean(case, video_format.CleanOptions())
        except InputError as exc:
            assert "\n" not in str(exc) and str(exc)
            refused += 1
            continue
        copy = b"".join(bytes(p) for p in cleaned.parts)  # type: ignore[arg-type]
        assert not fmt.inspect(copy).findings
        assert fmt.reread(copy, cleaned) is None
    assert refused > 20


def test_every_track_but_video_and_audio_goes_and_is_named(tmp_path: Path) -> None:
    cleaned = by_name("MP4").clean(GOPRO.read_bytes(), video_format.CleanOptions())
    said = {(f.what, f.value) for f in cleaned.findings}
    assert ("location track", "GPS every 0.25 s") in said
    assert ("camera", "GoPro Karma v1.0") in said
    assert any(what == "timecode track" for what, _ in said)
    copy = b"".join(bytes(p) for p in cleaned.parts)  # type: ignore[arg-type]
    moov = _top(copy)["moov"]
    handlers = [t.handler for t in read_tracks(copy, boxes(copy, moov[0], moov[2])[0])]
    assert sorted(handlers) == ["soun", "vide"]


def test_a_live_photo_loses_its_pairing_on_both_halves(tmp_path: Path) -> None:
    """The MOV half's content.identifier key and the HEIC half's Apple maker note id (the
    same UUID) are both reported and both gone from the copies."""
    vt.require_tools("ffmpeg")
    pairing = "570F1469-09C7-4E50-9875-05F21D5BD166"
    photo = ROOT / "tests" / "corpus" / "heic" / "exif-samples__IMG_5195.HEIC"
    movie = tmp_path / "IMG_5195.MOV"
    vt._run(
        [
            "ffmpeg", "-v", "error", "-i", str(IPHONE), "-map", "0", "-c", "copy",
            "-movflags", "use_metadata_tags", "-metadata",
            f"com.apple.quicktime.content.identifier={pairing}", str(movie),
        ]
    )  # fmt: skip
    assert pairing.encode() in movie.read_bytes()
    for half in (photo, movie):
        result = _clean(half, tmp_path / "out")
        assert result.ok, result.reason
        assert ("Live Photo pairing identifier", pairing) in {(f.what, f.value) for f in result.findings}
        assert result.output is not None and pairing.encode() not in result.output.read_bytes()
        body = messages.for_file(result).body
        assert "Live Photo pairing identifier" in body


def test_what_the_notification_says_about_a_video(tmp_path: Path) -> None:
    result = _clean(GOPRO, tmp_path / "out")
    message = messages.for_file(result)
    assert message.title == "Video cleaned: gopro_karma.mp4"
    assert "location track (GPS every 0.25 s)" in message.body
    assert "device (GoPro Karma v1.0)" in message.body
    assert "serial numbers" in message.body
    assert "image" not in message.body  # nothing said of it is about a picture
    assert "What the video shows (faces, text) is not checked." in message.body
    iphone = _clean(IPHONE, tmp_path / "out")
    assert "device (Apple iPhone 6)" in messages.for_file(iphone).body
    burst = messages.for_burst(
        [result, iphone, _clean(ROOT / "tests" / "corpus" / "png" / _a_png(), tmp_path)]
    )
    assert burst.title == "Cleaned 1 photo and 2 videos"


def _a_png() -> str:
    return sorted(p.name for p in (ROOT / "tests" / "corpus" / "png").glob("*.png"))[0]


def test_a_video_is_recognised_by_its_content_whatever_its_name(tmp_path: Path) -> None:
    named = tmp_path / "holiday.jpg"
    shutil.copyfile(IPHONE, named)
    assert detect(named.read_bytes()[:64]).name == "QuickTime"
    result = _clean(named, tmp_path / "out")
    assert result.ok and result.format == "QuickTime"


def test_with_redaction_on_a_video_is_not_copied(tmp_path: Path) -> None:
    """Faces or text the user asked to hide could be in any frame: no copy, and why."""
    from safeshare.config import VisionConfig
    from tests.vision_set import cleaned_with

    result = cleaned_with(VisionConfig(redact=("faces",)), PHONE, tmp_path / "out")
    assert result.status is Status.REFUSED
    assert "redaction is on, and faces or text in a video cannot be hidden" in result.reason
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert messages.for_failure(result).title == "Couldn't clean mp4_with-gps.mp4"
