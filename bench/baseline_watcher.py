"""The floor any event-driven tool stands on: a bare watchdog observer that copies each
file to an output folder when it is closed after writing. No parsing, no checks, no ledger.
Run: python baseline_watcher.py WATCHED OUTPUT
"""

from __future__ import annotations

import shutil
import signal
import sys
import threading
from pathlib import Path

from watchdog.events import FileClosedEvent, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer


class CopyOnClose(FileSystemEventHandler):
    def __init__(self, output: Path) -> None:
        self.output = output

    def on_closed(self, event: FileSystemEvent) -> None:
        source = Path(str(event.src_path))
        target = self.output / source.name
        shutil.copyfile(source, self.output / f".{source.name}.tmp")
        (self.output / f".{source.name}.tmp").replace(target)


def main() -> None:
    watched, output = Path(sys.argv[1]), Path(sys.argv[2])
    output.mkdir(parents=True, exist_ok=True)
    observer = Observer()
    observer.schedule(CopyOnClose(output), str(watched), event_filter=[FileClosedEvent])
    observer.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    observer.stop()
    observer.join()


if __name__ == "__main__":
    main()
