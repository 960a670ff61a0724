"""Movies built to break the video cleaner (each from a hostile review), through the same
path `safeshare clean` takes: a copy holding planted data, a copy that plays differently, a
file still being written published as if whole. Each one must be cleaned with nothing
planted left and the same frames, or refused with one line (retried when unfinished)."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from safeshare.errors import Truncated
from safeshare.pipeline import Result
from tests import mp4edit as m
from tests import videotools as vt

PLANTED = b"LEAKGPS+48.8584+002.2945/SN-C39XYZ"


def _ffmpeg(*args: str) -> None:
    vt.require_tools("ffmpeg", "ffprobe")
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile-videos")
    src = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", "sine=sample_rate=48000"]
    x264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-t", "3"]
    _ffmpeg(*src, *x264, str(folder / "plain.mp4"))
    _ffmpeg(*src, *x264, "-movflags", "frag_keyframe+empty_moov+default_base_moof", str(folder / "frag.mp4"))
    _ffmpeg(*src, *x264, "-movflags", "+faststart", str(folder / "fast.mp4"))
    srt = folder / "gps.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\nGPS 48.85850, 2.29460\n")
    _ffmpeg(
        *src,
        "-i",
        str(srt),
        *x264,
        "-c:s",
        "mov_text",
        "-map",
        "0",
        "-map",
        "1",
        "-map",
        "2",
        str(folder / "sub.mp4"),
    )
    for codec in ("pcm_s16be", "pcm_mulaw"):
        _ffmpeg(
            *src,
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            codec,
            "-t",
            "2",
            str(folder / f"{codec}.mov"),
        )
    return folder


def _clean(source: Path, out: Path) -> Result:
    result: Result = vt.clean_in_process(source, out)
    return result


def _same_and_clean(source: Path, out: Path) -> bytes:
    result = _clean(source, out)
    assert result.ok, result.reason
    assert result.output is not None
    assert vt.frame_problems(source, result.output) == []
    copy = result.output.read_bytes()
    assert PLANTED not in copy
    return copy


def test_a_free_box_between_a_fragment_and_its_media_keeps_every_offset(made: Path, tmp_path: Path) -> None:
    """A 'free' box between each 'moof' and its 'mdat' (the fragment's sample offsets say
    so): it goes, as zeros of its size, and the fragments keep their layout."""
    top = m.load(made / "frag.mp4")
    out: list[m.Box] = []
    for b in top:
        out.append(b)
        if b.kind == "moof":
            for trun in (t for traf in b.all("traf") for t in traf.all("trun")):
                raw = bytearray(trun.payload)
                if int.from_bytes(raw[1:4], "big") & 1:  # data offset present
                    struct.pack_into(">i", raw, 8, struct.unpack_from(">i", raw, 8)[0] + 8 + len(PLANTED))
                trun.payload = bytes(raw)
            out.append(m.Box("free", PLANTED))
    source = m.save(out, tmp_path / "free_frag.mp4")
    assert vt.framemd5(source, "v") == vt.framemd5(made / "frag.mp4", "v")  # a valid movie
    _same_and_clean(source, tmp_path / "out")


@pytest.mark.parametrize("cut", ["in the last fragment's media", "right after a fragment header"])
def test_a_fragmented_movie_still_being_written_is_tried_again(made: Path, tmp_path: Path, cut: str) -> None:
    data = (made / "frag.mp4").read_bytes()
    places = m.positions(m.load(made / "frag.mp4"))
    if cut.startswith("in"):
        _, start, size = [p for p in places if p[0] == "mdat"][-1]
        end = start + size // 2
    else:
        _, start, size = [p for p in places if p[0] == "moof"][-1]
        end = start + size
    source = tmp_path / "recording.mp4"
    source.write_bytes(data[:end])
    result = _clean(source, tmp_path / "out")
    assert not result.ok and result.problem is not None and issubclass(result.problem, Truncated), (
        result.reason
    )
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_half_copied_movie_with_its_header_first_is_tried_again(made: Path, tmp_path: Path) -> None:
    data = (made / "fast.mp4").read_bytes()
    for end in (len(data) // 2, len(data) - 1):
        source = tmp_path / "half.mp4"
        source.write_bytes(data[:end])
        result = _clean(source, tmp_path / "out")
        assert result.problem is not None and issubclass(result.problem, Truncated), result.reason


@pytest.mark.parametrize("suffix", [".mov", ".mp4"])  # in an MP4, ffmpeg says 'mp4v', type 0x6C
def test_motion_jpeg_frames_with_their_own_exif_are_refused(tmp_path: Path, suffix: str) -> None:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0110] = "LEAKMODEL"  # Model
    for i in range(3):
        Image.new("RGB", (64, 48), (i * 80, 90, 120)).save(tmp_path / f"f{i}.jpg", exif=exif.tobytes())
    source = tmp_path / f"mjpeg{suffix}"
    _ffmpeg("-framerate", "5", "-i", str(tmp_path / "f%d.jpg"), "-c:v", "copy", str(source))
    assert b"LEAKMODEL" in source.read_bytes()
    result = _clean(source, tmp_path / "out")
    assert not result.ok and "Motion-JPEG frames that carry their own metadata" in result.reason


@pytest.mark.parametrize("handler", [b"soun", b"vide"])
def test_a_subtitle_track_posing_as_sound_or_video_is_refused(
    made: Path, tmp_path: Path, handler: bytes
) -> None:
    top = m.load(made / "sub.mp4")
    for trak in m.tracks(top):
        hdlr = trak.at("mdia/hdlr")
        if hdlr.payload[8:12] == b"sbtl":
            hdlr.payload = hdlr.payload[:8] + handler + hdlr.payload[12:]
    result = _clean(m.save(top, tmp_path / "posing.mp4"), tmp_path / "out")
    assert not result.ok and "whose samples are 'tx3g'" in result.reason


def test_a_dropped_tracks_data_inside_a_kept_chunk_is_refused(made: Path, tmp_path: Path) -> None:
    """The kept sample just before the subtitle sample is stretched over it: copying the
    frame (or sound) would copy the GPS text."""
    from safeshare.formats.isobmff import boxes
    from safeshare.formats.video_tracks import read_tracks

    data = (made / "sub.mp4").read_bytes()
    moov_box = next(b for b in boxes(data, 0, len(data), top=True) if b.type == "moov")
    tracks = read_tracks(data, moov_box)
    subtitle = next(t for t in tracks if not t.kept)
    sub_offset, sub_length = subtitle.chunks[0]
    index, neighbour = next(
        (i, t) for i, t in enumerate(tracks) if t.kept and any(o + n == sub_offset for o, n in t.chunks)
    )
    chunk = next(c for c, (o, n) in enumerate(neighbour.chunks) if o + n == sub_offset)
    last_sample = sum(neighbour.per_chunk[: chunk + 1]) - 1
    top = m.load(made / "sub.mp4")
    stsz = m.tracks(top)[index].at("mdia/minf/stbl/stsz")
    raw = bytearray(stsz.payload)
    at = 12 + 4 * last_sample
    struct.pack_into(">I", raw, at, struct.unpack_from(">I", raw, at)[0] + sub_length)
    stsz.payload = bytes(raw)
    result = _clean(m.save(top, tmp_path / "stretched.mp4"), tmp_path / "out")
    assert not result.ok and "lies inside a kept track's" in result.reason, result.reason


@pytest.mark.parametrize(
    "path",
    [
        *("mvhd", "trak/tkhd", "trak/mdia/mdhd", "trak/mdia/minf/vmhd", "trak/mdia/minf/stbl/stts"),
        *("trak/mdia/minf/stbl/stsc", "trak/mdia/minf/stbl/stsz", "trak/mdia/minf/stbl/stss"),
    ],
)
def test_data_after_a_boxs_fields_is_not_copied(made: Path, tmp_path: Path, path: str) -> None:
    top = m.load(made / "plain.mp4")  # media data first: the header can grow
    assert [b.kind for b in top].index("mdat") < [b.kind for b in top].index("moov")
    target = m.moov(top).at(path)
    target.payload += PLANTED
    source = m.save(top, tmp_path / "slack.mp4")
    assert vt.framemd5(source, "v") == vt.framemd5(made / "plain.mp4", "v")  # players ignore it
    from safeshare.formats import by_name

    said = {f.what for f in by_name("MP4").inspect(source.read_bytes()).findings}
    assert "data after a box's fields" in said
    _same_and_clean(source, tmp_path / "out")


@pytest.mark.parametrize("codec", ["pcm_s16be", "pcm_mulaw"])
def test_uncompressed_quicktime_sound_is_copied_whole(made: Path, tmp_path: Path, codec: str) -> None:
    """Also as QuickTime itself writes it: 'stsz' counting PCM frames (a sample size of 1)."""
    source = made / f"{codec}.mov"
    _same_and_clean(source, tmp_path / "out")
    top = m.load(source)
    for trak in m.tracks(top):
        if m.handler(trak) == b"soun":
            stsz = bytearray(trak.at("mdia/minf/stbl/stsz").payload)
            struct.pack_into(">I", stsz, 4, 1)
            trak.at("mdia/minf/stbl/stsz").payload = bytes(stsz)
    classic = m.save(top, tmp_path / f"classic_{codec}.mov")
    if vt.framemd5(classic, "a") == vt.framemd5(source, "a"):  # ffmpeg reads it the same way
        _same_and_clean(classic, tmp_path / "out2")


def test_millions_of_chunks_are_refused_at_once(made: Path, tmp_path: Path) -> None:
    top = m.load(made / "plain.mp4")
    stco = m.moov(top).at("trak/mdia/minf/stbl/stco")
    count = 3_000_000
    stco.payload = struct.pack(">II", 0, count) + bytes(4 * count)
    result = _clean(m.save(top, tmp_path / "many.mp4"), tmp_path / "out")
    assert not result.ok and "more than 2,000,000 chunks" in result.reason


def test_bytes_after_a_fragments_samples_are_not_copied(made: Path, tmp_path: Path) -> None:
    """Data appended inside each fragment's 'mdat', after the samples its 'trun' describes:
    written as zeros, reported, the frames the same."""
    top = m.load(made / "frag.mp4")
    for b in top:
        if b.kind == "mdat" and any(x.kind == "moof" for x in top[: top.index(b)]):
            b.payload += PLANTED
    source = m.save(top, tmp_path / "frag_tail.mp4")
    assert vt.framemd5(source, "v") == vt.framemd5(made / "frag.mp4", "v")
    from safeshare.formats import by_name

    said = {f.what for f in by_name("MP4").inspect(source.read_bytes()).findings}
    assert "media data no video or audio track uses" in said
    copy = _same_and_clean(source, tmp_path / "out")
    assert len(copy) > 0


def test_png_frames_which_can_hold_text_chunks_are_refused(tmp_path: Path) -> None:
    from PIL import Image, PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "LEAKGPS 48.8584 N")
    Image.new("RGB", (32, 24), (200, 30, 30)).save(tmp_path / "f.png", pnginfo=text)
    source = tmp_path / "png.mov"
    _ffmpeg(
        "-loop", "1", "-framerate", "5", "-t", "1", "-i", str(tmp_path / "f.png"), "-c:v", "copy", str(source)
    )
    assert b"LEAKGPS" in source.read_bytes()
    result = _clean(source, tmp_path / "out")
    assert not result.ok and "'png '" in result.reason


# What decoders read besides the frames must survive the cutting of boxes to their fields:
# the avcC extension of the 4:4:4 profiles, the AC-3 description QuickTime keeps in 'wave',
# HEVC/AV1/VP9 configurations, HDR mastering data.
CODECS = {
    "high444.mp4": ["-c:v", "libx264", "-profile:v", "high444", "-pix_fmt", "yuv444p", "-an"],
    "ac3.mov": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "ac3"],
    "hevc.mp4": ["-c:v", "libx265", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p10le", "-an"],
    "av1.mp4": ["-c:v", "libaom-av1", "-cpu-used", "8", "-an"],
    "vp9.mp4": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-an"],
    "mpeg4.mp4": ["-c:v", "mpeg4", "-bf", "2", "-c:a", "libmp3lame"],
    "prores.mov": ["-c:v", "prores_ks", "-c:a", "pcm_s24le"],
    "opus.mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "libopus"],
    "flac.mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "flac", "-strict", "-2"],
    "alac.mov": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "alac"],
    "hdr.mp4": ["-c:v", "libx265", "-x265-params", "log-level=error:hdr10=1:master-display="
                "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400",
                "-pix_fmt", "yuv420p10le", "-color_primaries", "bt2020", "-color_trc", "smpte2084",
                "-colorspace", "bt2020nc", "-an"],
    "hevc_frag.mp4": ["-c:v", "libx265", "-x265-params", "log-level=error", "-c:a", "aac",
                      "-movflags", "frag_keyframe+empty_moov+default_base_moof"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CODECS))
def test_codecs_are_copied_exactly(tmp_path: Path, name: str) -> None:
    """The codec, colour and HDR descriptions cut to their fields' length are still whole:
    ffmpeg decodes the same frames and sound, and ffprobe sees the same stream properties."""
    vt.require_tools("ffmpeg", "ffprobe")
    encoders = subprocess.run(["ffmpeg", "-v", "error", "-encoders"], capture_output=True, text=True).stdout
    codec_args = CODECS[name]
    needed = [codec_args[i + 1] for i, a in enumerate(codec_args) if a in ("-c:v", "-c:a")]
    missing = [c for c in needed if f" {c} " not in encoders]
    if missing:
        pytest.skip(f"this ffmpeg has no {', '.join(missing)} encoder")
    source = tmp_path / name
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=5",
        "-f",
        "lavfi",
        "-i",
        "sine",
        "-t",
        "1",
        *codec_args,
        str(source),
    )
    _same_and_clean(source, tmp_path / "out")
    fields = ("codec_name", "profile", "pix_fmt", "extradata_size", "side_data_list", "channel_layout")
    fields += ("color_space", "color_transfer", "color_primaries", "sample_rate", "nb_read_packets")
    before = [{k: s.get(k) for k in fields} for s in vt.ffprobe_streams(source)]
    after = [{k: s.get(k) for k in fields} for s in vt.ffprobe_streams(tmp_path / "out" / name)]
    assert after == before
