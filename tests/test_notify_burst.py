"""Bursts stay one notification, with the vision extra on too: the notifier's decisions,
driven by an injected clock (no sleeping), and what they say."""

from __future__ import annotations

import time
from pathlib import Path

from safeshare.config import NotifyConfig
from safeshare.findings import Findings, Kind
from safeshare.messages import Message
from safeshare.notify import LOOK_WAIT, MAX_WAIT, Notifier
from safeshare.pipeline import Result, Status
from safeshare.vision.report import Seen, Visible

FACE = Seen("face", (10, 10, 50, 50))
TEXT = Seen("text", (0, 60, 90, 70), "Boarding pass")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def photo(name: str, looking: bool = False) -> Result:
    found = Findings()
    found.add(Kind.GPS, "GPS position", "48.8584 N, 2.2945 E", "EXIF")
    return Result(
        Path("/in") / name,
        Status.CLEANED,
        Path("/out/safe") / name,
        "JPEG",
        "JPEG",
        findings=found,
        looking=looking,
    )


def notifier(clock: Clock, burst: float = 2.0) -> Notifier:
    return Notifier(
        NotifyConfig(burst_seconds=burst), Path("/out/safe"), backends=[], clock=clock, start=False
    )


def run(n: Notifier, clock: Clock, until: float, step: float = 0.25) -> list[Message]:
    """Poll as the notifier's thread would, until `until`; everything said."""
    said: list[Message] = []
    while clock.now < until:
        messages, _ = n.poll()
        said += messages
        clock.now += step
    return said


def burst(n: Notifier, clock: Clock, count: int) -> tuple[list[Result], list[Message]]:
    """`count` photos published at once, each to be looked at; what was said after 5 s."""
    results = [photo(f"{i}.jpg", looking=True) for i in range(count)]
    for result in results:
        n.file_done(result)
    return results, run(n, clock, clock.now + 5)


def test_a_burst_of_300_with_vision_is_one_summary_then_one_for_what_it_shows() -> None:
    clock = Clock()
    n = notifier(clock)
    cleaning = {"busy": True}
    n.busy = lambda: cleaning["busy"]
    results = [photo(f"IMG_{i:04d}.jpg", looking=True) for i in range(300)]
    said: list[Message] = []
    for i, result in enumerate(results):  # cleaned over 90 s, files always waiting behind
        n.file_done(result)
        clock.now += 0.3 if i % 50 else 3.0  # pauses longer than burst_seconds: still one burst
        said += n.poll()[0]
    assert said == []  # files are still waiting to be cleaned: nothing is summed up yet
    cleaning["busy"] = False
    said += run(n, clock, clock.now + 5)
    assert [m.title for m in said] == ["Cleaned 300 photos"]
    assert said[0].body.startswith("300 had a location.")
    for i, result in enumerate(results):  # looked at afterwards, one by one
        result.visible = Visible((100, 100), [FACE] if i % 7 == 0 else [], [TEXT] if i == 5 else [])
        n.file_seen(result)
        clock.now += 1.0
        said += n.poll()[0]
    said += run(n, clock, clock.now + 5)
    assert [m.title for m in said] == ["Cleaned 300 photos", "Visible in 44 of the 300 photos just cleaned"]
    assert said[1].body == (
        "43 show faces: IMG_0000.jpg, IMG_0007.jpg, IMG_0014.jpg + 40 more.\n"
        "1 shows readable text: IMG_0005.jpg."
    )


def test_one_photo_with_vision_is_one_notification_that_says_what_it_shows() -> None:
    clock = Clock()
    n = notifier(clock)
    result = photo("IMG_1.jpg", looking=True)
    n.file_done(result)
    assert run(n, clock, clock.now + 10) == []  # held back for its look
    result.visible = Visible((100, 100), [FACE])
    n.file_seen(result)
    (message,) = run(n, clock, clock.now + 1)
    assert message.title == "Photo cleaned: IMG_1.jpg" and "Also visible: a face." in message.body
    assert run(n, clock, clock.now + 600) == []


def test_a_look_that_never_comes_does_not_hold_the_notification_forever() -> None:
    clock = Clock()
    n = notifier(clock)
    n.file_done(photo("IMG_2.jpg", looking=True))
    assert run(n, clock, clock.now + LOOK_WAIT) == []
    (message,) = run(n, clock, clock.now + 3)
    assert message.title == "Photo cleaned: IMG_2.jpg" and "visible" not in message.body


def test_a_burst_whose_photos_show_nothing_gets_no_second_notification() -> None:
    clock = Clock()
    n = notifier(clock)
    results, said = burst(n, clock, 30)
    for result in results:
        result.visible = Visible((10, 10))
        n.file_seen(result)
    said += run(n, clock, clock.now + 5)
    assert [m.title for m in said] == ["Cleaned 30 photos"]


def test_files_that_never_stop_coming_are_summed_up_every_max_wait() -> None:
    clock = Clock()
    n = notifier(clock)
    n.busy = lambda: True
    said: list[Message] = []
    count = 0
    while clock.now < 1000.0 + 2.5 * MAX_WAIT:
        n.file_done(photo(f"{count}.jpg"))
        count += 1
        clock.now += 1.0
        said += n.poll()[0]
    assert len(said) == 2 and all(m.title.startswith("Cleaned ") for m in said)


def test_closing_says_what_is_still_held() -> None:
    clock = Clock()
    n = notifier(clock)
    n.busy = lambda: True
    n.file_done(photo("a.jpg"))
    n.file_done(photo("b.jpg", looking=True))
    messages, _ = n.poll(closing=True)
    assert [m.title for m in messages] == ["Cleaned 2 photos", "Could not look at the photo just cleaned"]
    assert n.poll() == ([], None)


def test_the_daemon_says_a_burst_of_300_in_one_notification(tmp_path: Path) -> None:
    """However long cleaning 300 photos takes, they are one notification (the vision extra's
    second one is proven with 30 photos in test_vision, and for 300 above, by the clock)."""
    from tests.daemon_harness import DaemonRun, wait_until
    from tests.dbus_session import notification_server
    from tests.test_daemon import photo

    with notification_server(tmp_path) as (address, recorder):
        run = DaemonRun(tmp_path / "d", extra="[notify]\nburst_seconds = 1.0\n")
        run.env["DBUS_SESSION_BUS_ADDRESS"] = address
        run.pictures.mkdir(parents=True)
        with run:
            for i in range(300):
                (run.pictures / f"IMG_{i:04d}.jpg").write_bytes(photo(1000 + i))
            wait_until(recorder.received, timeout=300)
            time.sleep(3)
            got = recorder.received()
            published = len(run.outputs())
    assert published == 300
    assert [n["summary"] for n in got] == ["Cleaned 300 photos"]


def test_looks_that_fail_are_counted_as_not_looked_at_never_as_showing_nothing() -> None:
    clock = Clock()
    n = notifier(clock)
    results, said = burst(n, clock, 10)
    for i, result in enumerate(results):
        result.visible = None if i < 3 else Visible((10, 10), [FACE] if i == 9 else [])
        n.file_seen(result)
    said += run(n, clock, clock.now + 5)
    assert [m.title for m in said] == ["Cleaned 10 photos", "Visible in 1 of the 10 photos just cleaned"]
    assert said[1].body == "1 shows faces: 9.jpg.\n3 could not be looked at."


def test_looks_done_before_the_summary_still_count_in_the_one_that_follows() -> None:
    """Looking starts as soon as cleaning pauses: some photos of a burst are looked at before
    its summary goes. They are said with the others, in one count for the whole burst."""
    clock = Clock()
    n = notifier(clock)
    results = [photo(f"{i}.jpg", looking=True) for i in range(30)]
    for i, result in enumerate(results):
        n.file_done(result)
        if i < 9:  # looked at already
            result.visible = Visible((10, 10), [FACE])
            n.file_seen(result)
    said = run(n, clock, clock.now + 5)
    assert [m.title for m in said] == ["Cleaned 30 photos"] and "visible" not in said[0].body.lower()
    for result in results[9:]:
        result.visible = Visible((10, 10), [FACE])
        n.file_seen(result)
    said += run(n, clock, clock.now + 5)
    assert [m.title for m in said][1:] == ["Visible in 30 of the 30 photos just cleaned"]


def test_a_single_photo_whose_look_failed_says_so() -> None:
    clock = Clock()
    n = notifier(clock)
    result = photo("IMG_3.jpg", looking=True)
    n.file_done(result)
    n.file_seen(result)  # given up on: visible stays None
    (message,) = run(n, clock, clock.now + 5)
    assert "What it shows could not be checked." in message.body
