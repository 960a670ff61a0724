"""Nothing outside the output folder, nothing overwritten that safeshare did not write,
copies no more readable than their originals."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from safeshare.errors import OutputError
from safeshare.outdir import OutputFolder
from tests import synth
from tests.conftest import run_cli


def _photo(path: Path, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(synth.jpeg(**kwargs))  # type: ignore[arg-type]
    return path


def test_clean_never_replaces_a_file_it_did_not_write(tmp_path: Path) -> None:
    source = _photo(tmp_path / "in" / "IMG_1.jpg")
    out = tmp_path / "out"
    out.mkdir()
    theirs = out / "IMG_1.jpg"
    theirs.write_bytes(b"the user's own file, not a copy of ours")
    proc = run_cli("clean", str(source), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert theirs.read_bytes() == b"the user's own file, not a copy of ours"
    assert (out / "IMG_1 (2).jpg").is_file()
    assert "IMG_1.jpg was taken by another file; wrote IMG_1 (2).jpg" in proc.stdout


def test_running_clean_again_keeps_its_own_copy_and_makes_no_second_one(tmp_path: Path) -> None:
    source = _photo(tmp_path / "in" / "IMG_1.jpg")
    out = tmp_path / "out"
    first = run_cli("clean", str(source), "--output", str(out))
    assert first.returncode == 0, first.stderr
    copy = out / "IMG_1.jpg"
    before = copy.stat()
    again = run_cli("clean", str(source), "--output", str(out))
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == ["IMG_1.jpg"]
    assert copy.stat().st_ino == before.st_ino  # left as it was: not even rewritten
    assert "already there; left unchanged" in again.stdout


def test_a_changed_input_does_not_replace_the_earlier_copy_either(tmp_path: Path) -> None:
    """Without a ledger, `clean` cannot prove the earlier copy is its own: it keeps both."""
    source = _photo(tmp_path / "in" / "IMG_1.jpg", size=(32, 16))
    out = tmp_path / "out"
    assert run_cli("clean", str(source), "--output", str(out)).returncode == 0
    earlier = (out / "IMG_1.jpg").read_bytes()
    _photo(source, size=(16, 32))
    assert run_cli("clean", str(source), "--output", str(out)).returncode == 0
    assert (out / "IMG_1.jpg").read_bytes() == earlier
    assert (out / "IMG_1 (2).jpg").is_file()


def test_two_inputs_with_one_name_in_one_run_get_two_names(tmp_path: Path) -> None:
    a = _photo(tmp_path / "a" / "x.jpg", size=(8, 8))
    b = _photo(tmp_path / "b" / "x.jpg", size=(16, 8))
    out = tmp_path / "out"
    proc = run_cli("clean", str(a), str(b), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["x (2).jpg", "x.jpg"]


def test_an_output_folder_clean_creates_is_private_and_copies_keep_their_privacy(tmp_path: Path) -> None:
    private = tmp_path / "private"
    source = _photo(private / "IMG_1.jpg")
    source.chmod(0o644)
    private.chmod(0o700)  # others cannot reach the photo, so they must not reach its copy
    out = tmp_path / "new" / "out"
    proc = run_cli("clean", str(source), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "IMG_1.jpg").stat().st_mode) == 0o600


def test_the_output_folder_swapped_for_a_link_gets_nothing_written_through_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    folder = OutputFolder(out)
    folder.stage(Path(), [b"first"], 0o600).commit("a.jpg", replace=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.rename(tmp_path / "moved-away")
    out.symlink_to(elsewhere)
    with pytest.raises(OutputError, match="now a link to another place"):
        folder.stage(Path(), [b"second"], 0o600)
    assert list(elsewhere.iterdir()) == []
    folder.close()


def test_an_output_folder_the_user_deleted_is_made_again(tmp_path: Path) -> None:
    out = tmp_path / "out"
    folder = OutputFolder(out)
    folder.stage(Path(), [b"first"], 0o600).commit("a.jpg", replace=False)
    (out / "a.jpg").unlink()
    out.rmdir()
    published = folder.stage(Path(), [b"second"], 0o600).commit("b.jpg", replace=False)
    assert published == out / "b.jpg" and published.read_bytes() == b"second"
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    folder.close()


def test_a_subfolder_link_inside_the_output_is_never_followed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "Screenshots").symlink_to(elsewhere)
    folder = OutputFolder(out)
    with pytest.raises(OutputError, match="leads outside the output folder"):
        folder.stage(Path("Screenshots"), [b"x"], 0o600)
    assert list(elsewhere.iterdir()) == []
    folder.close()


def test_publishing_without_replace_never_clobbers_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    out = tmp_path / "out"
    folder = OutputFolder(out)
    staged = folder.stage(Path(), [b"ours"], 0o600)
    (out / "a.jpg").write_bytes(b"appeared between the check and the publish")
    assert staged.commit("a.jpg", replace=False) is None
    assert (out / "a.jpg").read_bytes() == b"appeared between the check and the publish"
    assert staged.commit("a (2).jpg", replace=False) == out / "a (2).jpg"  # the caller's next name
    assert sorted(p.name for p in out.iterdir()) == ["a (2).jpg", "a.jpg"]  # no temp file left
    assert (out / "a (2).jpg").read_bytes() == b"ours"
    folder.close()


def test_a_copy_is_never_wider_than_the_umask_allows(tmp_path: Path) -> None:
    source = _photo(tmp_path / "in" / "IMG_1.jpg")
    source.chmod(0o666)
    out = tmp_path / "out"
    proc = run_cli("clean", str(source), "--output", str(out), env={}) if os.name != "nt" else None
    assert proc is not None and proc.returncode == 0, proc.stderr if proc else ""
    mode = stat.S_IMODE((out / "IMG_1.jpg").stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode & umask == 0


def test_the_staged_copy_is_verified_through_its_own_descriptor_never_by_name(tmp_path: Path) -> None:
    """Someone who can write next to the copy swaps the temp file for a FIFO (which would
    block a reader forever) or another file: verification refuses at once, reads nothing."""
    out = tmp_path / "out"
    folder = OutputFolder(out)
    staged = folder.stage(Path(), [b"ours"], 0o600)
    (out / staged.temp_name).unlink()
    os.mkfifo(out / staged.temp_name)
    with pytest.raises(OutputError, match="was replaced by another file"):
        os.close(staged.reopen())
    (out / staged.temp_name).unlink()
    with pytest.raises(OutputError, match="is gone"):
        staged.reopen()
    staged.discard()
    folder.close()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown to another user"
)
def test_an_output_folder_of_another_user_gets_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.chown(out, 65534, 65534)  # nobody: e.g. a link planted to a folder an attacker owns
    with pytest.raises(OutputError, match="belongs to another user"):
        OutputFolder(out).stage(Path(), [b"x"], 0o600)
    assert list(out.iterdir()) == []


def test_clean_of_a_folder_reads_nothing_through_a_link_swapped_in_after_the_walk(tmp_path: Path) -> None:
    from safeshare.batch import clean_all, collect
    from safeshare.pipeline import Pipeline, Settings

    shared = tmp_path / "shared-in"
    _photo(shared / "p1.jpg", size=(8, 8))
    secret = _photo(tmp_path / "private" / "secret.jpg", size=(40, 40))
    jobs, _ = collect([shared], tmp_path / "out")
    (shared / "p1.jpg").unlink()
    (shared / "p1.jpg").symlink_to(secret)  # swapped between the walk and the read
    results = list(clean_all(jobs, Pipeline(Settings()), tmp_path / "out", 1))
    assert [r.status.value for r in results] == ["refused"]
    assert "link" in results[0].reason
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").rglob("*.jpg")) == []


def test_clean_of_a_folder_with_a_fifo_does_not_hang(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _photo(folder / "a.jpg")
    os.mkfifo(folder / "notes")
    proc = run_cli("clean", str(folder), "--output", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "a.jpg").is_file()
