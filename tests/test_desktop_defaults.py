"""Defaults that fit camera imports, with the real daemon: ~/Pictures watched with its folders
(the output, hidden folders and photo libraries inside it left alone), the first start said
once, and a folder watched before without its subfolders not mass-copied when it gains them."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from safeshare.watcher import is_skipped_folder_name
from tests.daemon_harness import DaemonRun, wait_until
from tests.dbus_session import notification_server

CORPUS_DIR = Path(__file__).parent / "corpus" / "jpeg"
PHOTO = CORPUS_DIR / "exif-samples__Canon_40D.jpg"
OTHER = Path(__file__).parent / "corpus" / "jpeg" / "pillow__exif_gps.jpg"


def put(path: Path, source: Path = PHOTO) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    return path


def outcomes(run: DaemonRun) -> dict[str, str]:
    with sqlite3.connect(run.state / "ledger.sqlite3") as db:
        rows = db.execute("SELECT path, outcome FROM files").fetchall()
    return {Path(bytes(p).decode()).relative_to(run.pictures).as_posix(): o for p, o in rows}


def test_an_import_into_dated_folders_is_cleaned_under_the_default_config(tmp_path: Path) -> None:
    """No [[watch]] table: the built-in defaults. Shotwell/digiKam-style dated folders are
    cleaned; the safe-share folder inside Pictures, hidden folders and a Photos library are not."""
    with notification_server(tmp_path) as (address, recorder):
        run = DaemonRun(tmp_path / "d", watches=[], extra="[notify]\nburst_seconds = 0.3\n")
        run.output = run.pictures / "Safe to share"
        run.config.write_text(run.config.read_text().replace(str(tmp_path / "d" / "safe"), str(run.output)))
        run.env["DBUS_SESSION_BUS_ADDRESS"] = address
        run.welcomed = False  # this test is about the first start
        put(run.pictures / "2025" / "old.jpg")  # there before the first start: noted, not cleaned
        with run:
            welcome = wait_until(recorder.received, timeout=30)[0]
            assert welcome["summary"] == "safeshare is watching your pictures"
            assert welcome["body"].splitlines() == [
                "Watching ~/Pictures and the folders in it.",
                f"Clean copies of new photos go to {run.output}.",
                "1 picture already there was left as it is (`safeshare clean` makes copies of any you need).",
            ]
            put(run.pictures / "2026" / "12" / "01" / "IMG_0001.jpg")
            put(run.pictures / ".thumbnails" / "large" / "t.jpg", OTHER)
            put(run.pictures / "Photos Library.photoslibrary" / "originals" / "0" / "x.jpg", OTHER)
            put(run.pictures / "Screenshots" / "Screenshot 1.jpg", OTHER)
            wait_until(
                lambda: (run.output / "Screenshot 1.jpg").exists() and (run.output / "IMG_0001.jpg").exists()
            )
            put(run.output / "by hand.jpg", OTHER)  # the user's own file in the output: not a new photo
            wait_until(lambda: len(recorder.received()) >= 2, timeout=30)
        assert sorted(p.name for p in run.output.iterdir()) == [
            "IMG_0001.jpg",
            "Screenshot 1.jpg",
            "by hand.jpg",
        ]
        assert outcomes(run) == {
            "2025/old.jpg": "baseline",
            "2026/12/01/IMG_0001.jpg": "published",
            "Screenshots/Screenshot 1.jpg": "published",
        }
    # said once per user: the next start says nothing of the kind
    (tmp_path / "again").mkdir()
    with notification_server(tmp_path / "again") as (address, recorder):
        run.env["DBUS_SESSION_BUS_ADDRESS"] = address
        with run:
            put(
                run.pictures / "2026" / "12" / "02" / "IMG_0002.jpg",
                PHOTO.with_name("exif-samples__DSCN0010.jpg"),
            )
            (said,) = wait_until(recorder.received, timeout=30)
    assert said["summary"] == "Photo cleaned: IMG_0002.jpg"  # and no second welcome


def test_a_folder_that_gains_its_subfolders_is_not_copied_whole(tmp_path: Path) -> None:
    """Upgrading from a non-recursive ~/Pictures: the pictures already in its subfolders are
    noted, not cleaned; a photo that arrived at its top while safeshare was off still is."""
    pictures = tmp_path / "d" / "home" / "Pictures"
    flat = DaemonRun(
        tmp_path / "d", watches=[{"path": str(pictures / "Screenshots")}, {"path": str(pictures)}]
    )
    (flat.pictures / "Screenshots").mkdir(parents=True)
    put(flat.pictures / "2024" / "06" / "holiday.jpg")  # never watched until now
    with flat:
        pass
    put(flat.pictures / "arrived while off.jpg")
    put(flat.pictures / "2024" / "06" / "also while off.jpg", OTHER)
    put(flat.pictures / "Screenshots" / "shot while off.jpg", CORPUS_DIR / "exif-samples__DSCN0042.jpg")
    deep = DaemonRun(tmp_path / "d", watches=[{"path": str(flat.pictures), "recursive": True}])
    with deep:
        wait_until(lambda: (deep.output / "arrived while off.jpg").exists())
        wait_until(lambda: (deep.output / "shot while off.jpg").exists())  # watched on its own before
        put(deep.pictures / "2024" / "07" / "new.jpg", OTHER)
        wait_until(lambda: (deep.output / "new.jpg").exists())
        # Recorded just after the rename: wait for it, not only for the file (a stop in
        # between is another test's subject).
        wait_until(lambda: outcomes(deep).get("2024/07/new.jpg") == "published")
    assert sorted(p.name for p in deep.output.iterdir()) == [
        "arrived while off.jpg",
        "new.jpg",
        "shot while off.jpg",
    ]
    assert outcomes(deep) == {
        "2024/06/holiday.jpg": "baseline",
        "2024/06/also while off.jpg": "baseline",
        "arrived while off.jpg": "published",
        "Screenshots/shot while off.jpg": "published",
        "2024/07/new.jpg": "published",
    }


def test_which_folders_are_not_looked_into() -> None:
    for name in (
        ".thumbnails",
        ".Trash-1000",
        "Photos Library.photoslibrary",
        "iPhoto Library.photolibrary",
        "Lightroom Catalog Previews.lrdata",
        "Photo Booth Library",
        "@eaDir",
        "$RECYCLE.BIN",
    ):
        assert is_skipped_folder_name(name), name
    for name in ("2026", "12", "Camera Roll", "Screenshots", "Library", "Photos", "darktable_exported"):
        assert not is_skipped_folder_name(name), name


def test_renaming_an_album_or_a_photo_copies_nothing_again(tmp_path: Path) -> None:
    """Tidying up ~/Pictures (an album folder renamed, a photo moved to another folder) is not
    a new photo: the ledger rows move with the files, and so does a copy's name."""
    run = DaemonRun(
        tmp_path / "d", watches=[{"path": str(tmp_path / "d" / "home" / "Pictures"), "recursive": True}]
    )
    for n, name in enumerate(("DSCN0010", "DSCN0021", "DSCN0029")):
        put(run.pictures / "Album" / f"old{n}.jpg", CORPUS_DIR / f"exif-samples__{name}.jpg")
    (run.pictures / "sorted").mkdir()  # (a folder made a moment before may miss the move's event)
    with run:
        put(run.pictures / "new" / "shared.jpg", PHOTO)
        wait_until(lambda: (run.output / "shared.jpg").exists())
        (run.pictures / "Album").rename(run.pictures / "Album 2025")
        (run.pictures / "new" / "shared.jpg").rename(run.pictures / "sorted" / "shared.jpg")
        wait_until(lambda: outcomes(run).get("sorted/shared.jpg") == "published")
        wait_until(lambda: all(outcomes(run).get(f"Album 2025/old{n}.jpg") == "baseline" for n in range(3)))
        first = (run.output / "shared.jpg").read_bytes()
        put(run.pictures / "sorted" / "shared.jpg", OTHER)  # then changed where it now is
        wait_until(lambda: (run.output / "shared.jpg").read_bytes() != first)
    assert sorted(p.name for p in run.output.iterdir()) == ["shared.jpg"]  # its own copy, updated
    assert outcomes(run) == {
        "Album 2025/old0.jpg": "baseline",
        "Album 2025/old1.jpg": "baseline",
        "Album 2025/old2.jpg": "baseline",
        "sorted/shared.jpg": "published",
    }
