"""File-system tricks, hostile names, a failing output side and decompression bombs:
nothing leaks, nothing partial appears, the daemon keeps running."""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from safeshare.batch import clean_one
from safeshare.errors import InputError, Vanished
from safeshare.fileio import read_input
from safeshare.pipeline import Pipeline, Settings, Status
from tests import synth
from tests.conftest import json_lines, run_cli
from tests.daemon_harness import DaemonRun, wait_until
from tests.helpers import CORPUS
from tests.test_daemon import photo


@pytest.fixture()
def run(tmp_path: Path) -> Iterator[DaemonRun]:
    daemon = DaemonRun(tmp_path)
    daemon.pictures.mkdir(parents=True)
    with daemon:
        yield daemon


def _published(run: DaemonRun, name: str) -> Path:
    path = run.output / name
    wait_until(path.exists)
    return path


# -- links, FIFOs, sockets, devices ----------------------------------------------------------
def test_symlinks_are_never_followed(run: DaemonRun, tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nSECRET\n")
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(photo(1))
    (run.pictures / "key.jpg").symlink_to(secret)
    (run.pictures / "photo.jpg").symlink_to(outside)
    (run.pictures / "after.jpg").write_bytes(photo(2))
    _published(run, "after.jpg")
    time.sleep(1)
    assert [p.name for p in run.outputs()] == ["after.jpg"]


def test_fifos_sockets_and_devices_are_skipped_without_blocking(run: DaemonRun) -> None:
    os.mkfifo(run.pictures / "pipe.jpg")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(run.pictures / "sock.jpg"))
    with contextlib.suppress(PermissionError):  # device nodes need CAP_MKNOD; FIFO and socket suffice
        os.mknod(run.pictures / "null.jpg", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    (run.pictures / "after.jpg").write_bytes(photo(3))
    _published(run, "after.jpg")
    server.close()
    assert [p.name for p in run.outputs()] == ["after.jpg"]


def test_clean_reads_no_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")
    start = time.monotonic()
    proc = run_cli("clean", str(tmp_path / "pipe.jpg"), "--output", str(tmp_path / "out"))
    assert proc.returncode == 1 and "not a regular file" in proc.stderr and time.monotonic() - start < 30


# -- names -------------------------------------------------------------------------------------
HOSTILE = ["new\nline.jpg", "quo'te\"s.jpg", "é ✓ 写真.jpg", "x" * 250 + ".jpg", "-rf.jpg", " lead.jpg"]


def test_hostile_names_are_published_and_logs_stay_one_line_per_event(run: DaemonRun) -> None:
    raw_name = os.fsdecode(b"bad\xff\xfe-name.jpg")  # not UTF-8
    for i, name in enumerate([*HOSTILE, raw_name]):
        (run.pictures / name).write_bytes(photo(10 + i))
    expected = sorted([*HOSTILE, raw_name])
    # (waited for by name: a copy still being written counts as its temp file meanwhile)
    wait_until(lambda: sorted(p.name for p in run.outputs()) == expected, timeout=60)
    assert sorted(p.name for p in run.outputs()) == expected
    lines = run.log.read_text(encoding="utf-8").splitlines()
    assert not any(line.startswith("line.jpg") for line in lines)  # the newline did not start a line
    assert any("new\\nline.jpg" in line for line in lines)


def test_long_names_still_fit_when_numbered_or_converted(tmp_path: Path) -> None:
    name = "y" * 250 + ".heic"  # 255 bytes: the longest name a file system takes
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / name).write_bytes(synth.heic())
    (tmp_path / "b" / name).write_bytes(synth.heic(with_video=False))
    proc = run_cli(
        "clean",
        str(tmp_path / "a" / name),
        str(tmp_path / "b" / name),
        "--output",
        str(tmp_path / "o"),
        "--json",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = sorted(Path(r["output"]).name for r in json_lines(proc.stdout))
    assert all(len(os.fsencode(n)) <= 255 for n in names) and names[0].endswith(" (2).jpg")


def test_outputs_never_land_outside_the_output_folder(tmp_path: Path) -> None:
    source = tmp_path / "in" / "sub"
    source.mkdir(parents=True)
    (source / "a.jpg").write_bytes(photo(30))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(elsewhere)  # a planted link where the mirrored subfolder goes
    proc = run_cli("clean", str(tmp_path / "in"), "--output", str(out))
    assert proc.returncode == 1 and "leads outside the output folder" in proc.stderr
    assert list(elsewhere.iterdir()) == []
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "flat").mkdir()
    (out / "a.jpg").symlink_to(victim)  # a planted link where the clean copy goes
    proc = run_cli("clean", str(source / "a.jpg"), "--output", str(out))
    assert proc.returncode == 0 and "a.jpg was taken by another file; wrote a (2).jpg" in proc.stdout
    assert victim.read_text() == "keep me"  # the link is not ours: neither followed nor replaced
    assert (out / "a.jpg").is_symlink() and (out / "a (2).jpg").is_file()


# -- reading -----------------------------------------------------------------------------------
def test_a_file_that_shrinks_while_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(photo(40))
    real_fstat = os.fstat

    def larger(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        fields = list(st)
        fields[stat.ST_SIZE] = st.st_size + 1000  # as if it was truncated right after fstat
        return os.stat_result(fields)

    monkeypatch.setattr(os, "fstat", larger)
    with pytest.raises(InputError, match="shrank while it was being read"):
        read_input(path, 1 << 30)


def test_a_vanished_file_is_dropped_quietly(tmp_path: Path) -> None:
    result = clean_one(Pipeline(Settings()), tmp_path / "gone.jpg", tmp_path / "out")
    assert result.problem is Vanished and result.status is Status.REFUSED


def test_permission_denied_is_a_clear_refusal(tmp_path: Path) -> None:
    """As root every file is readable, so the command runs as 'nobody' then."""
    base = Path(tempfile.mkdtemp(prefix="safeshare-perm-", dir="/tmp"))
    try:
        base.chmod(0o777)
        secret = base / "private.jpg"
        secret.write_bytes(photo(41))
        secret.chmod(0o000)
        (base / "out").mkdir(mode=0o777)
        (base / "home").mkdir(mode=0o777)
        command = [sys.executable, "-m", "safeshare", "clean", str(secret), "--output", str(base / "out")]
        env = {
            **os.environ,
            "HOME": str(base / "home"),
            "XDG_CONFIG_HOME": str(base / "home"),
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "daemon"),
        }
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root and setpriv is missing: cannot make a file unreadable")
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd=base)
        assert proc.returncode == 1 and "private.jpg: cannot open: permission denied" in proc.stderr
        assert list((base / "out").iterdir()) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


# -- the output side -----------------------------------------------------------------------------
def test_output_folder_deleted_while_running_is_recreated(run: DaemonRun) -> None:
    (run.pictures / "one.jpg").write_bytes(photo(50))
    _published(run, "one.jpg")
    shutil.rmtree(run.output)
    (run.pictures / "two.jpg").write_bytes(photo(51))
    _published(run, "two.jpg")


def test_unwritable_output_fails_cleanly_and_is_retried(run: DaemonRun) -> None:
    shutil.rmtree(run.output, ignore_errors=True)
    run.output.write_text("a file where the output folder should be")
    (run.pictures / "waiting.jpg").write_bytes(photo(52))
    wait_until(lambda: run.outcomes().get(str(run.pictures / "waiting.jpg")) == "retry-output", timeout=30)
    assert "trying again in" in run.log.read_text()
    run.output.unlink()
    _published(run, "waiting.jpg")  # the retry, no new event needed
    assert run.temp_files() == []


def test_disk_full_leaves_no_partial_file_and_is_retried(run: DaemonRun) -> None:
    assert run.proc is not None
    big = (CORPUS / "jpeg" / "exif-samples__HMD_Nokia_8.3_5G.jpg").read_bytes()  # 2.2 MB
    hard = resource.prlimit(run.proc.pid, resource.RLIMIT_FSIZE)[1]
    resource.prlimit(run.proc.pid, resource.RLIMIT_FSIZE, (1 << 20, hard))  # writes past 1 MB fail
    (run.pictures / "large.jpg").write_bytes(big)
    wait_until(lambda: run.outcomes().get(str(run.pictures / "large.jpg")) == "retry-output", timeout=30)
    assert run.outputs() == []  # neither the copy nor a temp file
    assert "File too large" in run.log.read_text() or "too large" in run.log.read_text().lower()
    resource.prlimit(run.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
    out = _published(run, "large.jpg")
    with Image.open(out) as image:
        image.load()


# -- bombs and huge files --------------------------------------------------------------------------
def _png_bomb() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 100_000, 9)  # one row; a decoder would want 30 GB
    return (
        b"\x89PNG\r\n\x1a\n"
        + synth.png_chunk(b"IHDR", ihdr)
        + synth.png_chunk(b"IDAT", idat)
        + synth.png_chunk(b"IEND", b"")
    )


def _jpeg_bomb() -> bytes:
    buffer = io.BytesIO()
    synth.picture().save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65000, 65000)
    return bytes(data)


def _tiff_bomb() -> bytes:
    return synth.tiny_tiff_with({256: (4, 1, 90_000), 257: (4, 1, 90_000)})  # 90,000 px square


@pytest.mark.parametrize(
    "name,build", [("bomb.png", _png_bomb), ("bomb.jpg", _jpeg_bomb), ("bomb.tif", _tiff_bomb)]
)
def test_decompression_bombs_are_refused_fast(tmp_path: Path, name: str, build: object) -> None:
    (tmp_path / name).write_bytes(build())  # type: ignore[operator]
    start = time.monotonic()
    result = clean_one(Pipeline(Settings()), tmp_path / name, tmp_path / "out")
    assert time.monotonic() - start < 5
    assert result.status is Status.REFUSED and "over the limit" in result.reason


def test_file_size_cap(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[clean]\nmax_file_mb = 1\n")
    big = tmp_path / "big.jpg"
    big.write_bytes((CORPUS / "jpeg" / "exif-samples__HMD_Nokia_8.3_5G.jpg").read_bytes())
    proc = run_cli("--config", str(config), "clean", str(big), "--output", str(tmp_path / "out"), "--json")
    record = json_lines(proc.stdout)[0]
    assert record["status"] == "refused" and "over the file-size limit" in record["reason"]


def test_pixel_cap_is_configurable(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[clean]\nmax_pixels = 1000\n")
    (tmp_path / "a.heic").write_bytes(synth.heic())
    (tmp_path / "b.png").write_bytes(synth.png())
    proc = run_cli(
        "--config",
        str(config),
        "clean",
        str(tmp_path / "a.heic"),
        str(tmp_path / "b.png"),
        "--output",
        str(tmp_path / "out"),
        "--json",
    )
    reasons = [r["reason"] for r in json_lines(proc.stdout)]
    assert len(reasons) == 2 and all("over the limit of 1000" in r for r in reasons), json.dumps(reasons)
