"""`safeshare clean` and `safeshare inspect` as a user runs them: exit codes, one line per
file, JSON, folders, bad input, names, and originals that never change."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tests import synth
from tests.conftest import fingerprint, json_lines, run_cli

BAD_INPUTS = {
    "notes.jpg": (b"Shopping list: eggs, milk\n", "not an image: the content is text"),
    "empty.png": (b"", "empty file"),
    "cut.jpg": (None, "truncated"),
    "cut.png": (None, "truncated"),
    "cut.gif": (None, "truncated"),
    "bitmap.jpg": (b"BM" + b"\0" * 60, "unknown BMP header size"),
    "clip.heic": (b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom" + b"\0" * 40, "corrupt video: no movie header"),
    "clip.webm": (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + b"\0" * 40, "unsupported format: Matroska"),
}


def _bad_bytes(name: str) -> bytes:
    data, _ = BAD_INPUTS[name]
    if data is not None:
        return data
    good = {"cut.jpg": synth.jpeg(extras=False), "cut.png": synth.png(), "cut.gif": synth.gif()}[name]
    return good[: len(good) // 2]


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "2024" / "june").mkdir(parents=True)
    (folder / "PXL_20250301_140211.jpg").write_bytes(synth.jpeg())
    (folder / "2024" / "june" / "beach.png").write_bytes(synth.png())
    (folder / "2024" / "anim.gif").write_bytes(synth.gif())
    (folder / "2024" / "notes.txt").write_text("not a picture")
    (folder / ".hidden.jpg").write_bytes(synth.jpeg(extras=False))
    return folder


def test_clean_folder_mirrors_layout_and_exits_0(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("clean", str(photos), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    made = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert made == ["2024/anim.gif", "2024/june/beach.png", "PXL_20250301_140211.jpg"]
    assert len(proc.stdout.splitlines()) == 3
    assert "skipped 1 file(s)" in proc.stderr  # notes.txt; the hidden file is not even counted
    assert "removed: location, time, device" in proc.stdout


def test_json_is_one_object_per_file(photos: Path, tmp_path: Path) -> None:
    proc = run_cli("clean", str(photos), "--output", str(tmp_path / "out"), "--json")
    records = json_lines(proc.stdout)
    assert len(records) == 3
    for record in records:
        assert record["status"] == "cleaned"
        assert set(record) >= {"input", "output", "format", "output_format", "mode", "removed", "notes"}
        assert record["mode"] == "lossless"
        assert {"class", "kind", "what", "value", "where"} <= set(record["removed"][0])
    jpeg = next(r for r in records if r["input"].endswith(".jpg"))
    gps = next(f for f in jpeg["removed"] if f["kind"] == "gps")
    assert gps["value"] == "48.8583 N, 2.2944 E"


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_refused_with_one_line_and_the_batch_goes_on(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    bad = folder / name
    bad.write_bytes(_bad_bytes(name))
    good = folder / "good.webp"
    good.write_bytes(synth.webp())
    out = tmp_path / "out"
    proc = run_cli("clean", str(bad), str(good), "--output", str(out))
    assert proc.returncode == 1
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and name in errors[0] and BAD_INPUTS[name][1] in errors[0], proc.stderr
    assert [p.name for p in out.iterdir()] == ["good.webp"]  # no partial file, no temp file


def test_missing_path_is_reported_and_the_rest_cleaned(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(synth.jpeg())
    proc = run_cli("clean", str(tmp_path / "nope.jpg"), str(good), "--output", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "nope.jpg: cannot open: no such file or directory" in proc.stderr
    assert (tmp_path / "out" / "good.jpg").is_file()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli("clean").returncode == 2
    assert run_cli("clean", "x.jpg", "--bogus").returncode == 2
    a_file = tmp_path / "file"
    a_file.write_text("")
    proc = run_cli("clean", str(a_file), "--output", str(a_file))
    assert proc.returncode == 2 and "must be a folder" in proc.stderr


def test_invalid_config_names_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "safeshare.toml"
    config.write_text('[clean]\nrename = "yes"\n')
    proc = run_cli("--config", str(config), "clean", "x.jpg")
    assert proc.returncode == 2
    assert f"{config}: 'clean.rename' must be true or false, not 'yes'" in proc.stderr
    config.write_text("colour = 1\n")
    proc = run_cli("clean", "x.jpg", env={"SAFESHARE_CONFIG": str(config)})
    assert proc.returncode == 2 and "unknown key 'colour'" in proc.stderr


def test_originals_untouched_and_never_overwritten(tmp_path: Path) -> None:
    source = tmp_path / "IMG_1.jpg"
    source.write_bytes(synth.jpeg())
    os.utime(source, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = fingerprint(source)
    proc = run_cli("clean", str(source), "--output", str(tmp_path))  # the original's own folder
    assert proc.returncode == 0 and "IMG_1.jpg was taken by another file; wrote IMG_1 (2).jpg" in proc.stdout
    assert fingerprint(source) == before and (tmp_path / "IMG_1 (2).jpg").is_file()
    started = time.time()
    assert run_cli("clean", str(source), "--output", str(tmp_path / "out")).returncode == 0
    assert fingerprint(source) == before
    assert (tmp_path / "out" / "IMG_1.jpg").stat().st_mtime >= started - 1  # fresh timestamps


def test_conversion_changes_extension_and_names_never_collide(tmp_path: Path) -> None:
    (tmp_path / "IMG_5.HEIC").write_bytes(synth.heic())
    (tmp_path / "IMG_5.jpg").write_bytes(synth.jpeg())
    out = tmp_path / "out"
    proc = run_cli(
        "clean", str(tmp_path / "IMG_5.HEIC"), str(tmp_path / "IMG_5.jpg"), "--output", str(out), "--json"
    )
    records = json_lines(proc.stdout)
    assert sorted(Path(r["output"]).name for r in records) == ["IMG_5 (2).jpg", "IMG_5.jpg"]
    heic = next(r for r in records if r["input"].endswith("HEIC"))
    assert heic["mode"] == "re-encoded" and heic["format"] == "HEIF" and heic["output_format"] == "JPEG"


def test_rename_writes_neutral_names_that_are_stable(tmp_path: Path) -> None:
    source = tmp_path / "Screenshot 2025-03-01 at 14.02.11.png"
    source.write_bytes(synth.png())
    out = tmp_path / "out"
    for _ in range(2):
        proc = run_cli("clean", "--rename", str(source), "--output", str(out), "--json")
        assert proc.returncode == 0
    names = [p.name for p in out.iterdir()]
    assert len(names) == 1 and names[0].startswith("image-") and names[0].endswith(".png")
    removed = json_lines(proc.stdout)[0]["removed"]
    assert any(f["kind"] == "filename" and "a date, a time, a screenshot name" in f["value"] for f in removed)


def test_rename_from_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'output = "{tmp_path / "safe"}"\n[clean]\nrename = true\n')
    source = tmp_path / "PXL_20250301_140211.jpg"
    source.write_bytes(synth.jpeg())
    proc = run_cli("clean", str(source), env={"SAFESHARE_CONFIG": str(config)})
    assert proc.returncode == 0, proc.stderr
    assert [p.name.startswith("image-") for p in (tmp_path / "safe").iterdir()] == [True]


def test_kept_revealing_name_is_pointed_out(tmp_path: Path) -> None:
    source = tmp_path / "PXL_20250301_140211.jpg"
    source.write_bytes(synth.jpeg(extras=False))
    proc = run_cli("clean", str(source), "--output", str(tmp_path / "out"))
    assert "the name still shows a date, a time, a Google Pixel camera name" in proc.stdout


def test_inspect_says_what_a_file_carries_in_words(tmp_path: Path) -> None:
    source = tmp_path / "PXL_20250301_140211.jpg"
    source.write_bytes(synth.jpeg())
    before = fingerprint(source)
    proc = run_cli("inspect", str(source))
    assert proc.returncode == 0
    text = proc.stdout
    assert "location: GPS position 48.8583 N, 2.2944 E [XMP]" in text
    assert f"device: serial number {synth.SERIAL}" in text
    assert "hidden pictures:" in text and "EXIF thumbnail JPEG 32x24" in text
    assert "motion-photo video" in text
    assert "file system: file name contains a date, a time, a Google Pixel camera name" in text
    assert fingerprint(source) == before
    records = json_lines(run_cli("inspect", "--json", str(source)).stdout)
    assert records[0]["format"] == "JPEG" and any(f["class"] == "location" for f in records[0]["carries"])


def test_inspect_of_a_clean_copy_finds_nothing(tmp_path: Path) -> None:
    source = tmp_path / "a.jpg"
    source.write_bytes(synth.jpeg())
    run_cli("clean", str(source), "--output", str(tmp_path / "out"))
    proc = run_cli("inspect", str(tmp_path / "out" / "a.jpg"))
    assert proc.returncode == 0 and "carries no metadata beyond the picture" in proc.stdout


def test_inspect_bad_file_exits_1(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_text("hello")
    proc = run_cli("inspect", str(tmp_path / "x.jpg"))
    assert proc.returncode == 1 and "x.jpg: not an image: the content is text" in proc.stdout


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    small = io.BytesIO()
    synth.picture((16, 16)).save(small, "JPEG")
    for i in range(12):
        (folder / f"{i}.jpg").write_bytes(small.getvalue())
    piped = run_cli("clean", str(folder), "--output", str(tmp_path / "a"))
    assert "[" not in piped.stderr
    main, follower = pty.openpty()
    command = [sys.executable, "-m", "safeshare", "clean", str(folder), "--output", str(tmp_path / "b")]
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=follower, check=False, timeout=120)
    os.close(follower)
    shown = os.read(main, 65536).decode()
    os.close(main)
    assert proc.returncode == 0 and "12/12" in shown and "#" in shown


def test_clean_copy_opens_everywhere_pillow_does(tmp_path: Path) -> None:
    source = tmp_path / "a.webp"
    source.write_bytes(synth.webp("animated"))
    assert run_cli("clean", str(source), "--output", str(tmp_path / "out")).returncode == 0
    with Image.open(tmp_path / "out" / "a.webp") as image:
        assert image.n_frames == 3
