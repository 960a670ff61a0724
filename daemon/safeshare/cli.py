"""Command line: parses arguments and hands over to the modules that do the work.

Exit status: 0 when every file was handled, 1 when any was refused or failed, 2 on usage
errors (bad arguments, invalid configuration).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from safeshare import config as config_mod
from safeshare import logsetup
from safeshare.batch import clean_all, collect, pipeline_settings, workers_for
from safeshare.cli_parser import COMMANDS, EXIT_FAILED, EXIT_OK, EXIT_USAGE, say
from safeshare.cli_parser import build_parser as build_parser
from safeshare.errors import ConfigError, SafeshareError, VisionUnavailable, describe_os_error
from safeshare.pipeline import Pipeline, Result
from safeshare.report import Progress, clean_json, clean_line, inspect_json, inspect_lines, shown

if TYPE_CHECKING:
    from safeshare.config import VisionConfig
    from safeshare.notify import Notifier
    from safeshare.vision.step import VisionStep

EXIT_INTERRUPTED = 130  # the shell's convention for a command stopped by Ctrl-C
NOT_RUNNING = "not-running.json"  # in the state folder: what was said, and when
REPEAT_NOTICE = 6 * 3600.0  # "safeshare is not running" for one reason: said again after this


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv and argv[0] in COMMANDS else None  # `safeshare clean ...`: its parser only
    args = build_parser(command).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="safeshare: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(logsetup.OneLine())
    # Decoder chatter about a broken file would read as our own error; the file's result says it.
    logging.getLogger("PIL").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    try:
        config = config_mod.load(args.config)
    except ConfigError as exc:
        say(f"safeshare: {exc}")
        if args.command == "run":  # the service would stop without a word: it is said
            from safeshare.config import NotifyConfig
            from safeshare.notify import Notifier

            notifier = Notifier(NotifyConfig(), Path(), start=False)
            tell_not_running(notifier, exc)
        return EXIT_USAGE
    commands = {
        "clean": run_clean,
        "inspect": run_inspect,
        "run": run_daemon,
        "status": run_status,
        "config": run_config,
        "service": run_service,
        "integrate": _desktop("run_integrate"),
        "pause": _desktop("run_pause"),
        "resume": _desktop("run_resume"),
        "notify-wait": _desktop("run_notify_wait"),
    }
    try:
        return commands[args.command](args, config)
    except KeyboardInterrupt:  # Ctrl-C: what was published stays; nothing partial exists
        print("safeshare: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): stop, as a pipeline's tools do
        import os

        with contextlib.suppress(OSError, ValueError):  # no second error when Python flushes it
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("safeshare: stopped: its output was closed (copies published so far stay)", file=sys.stderr)
        return EXIT_FAILED


def _desktop(name: str) -> Callable[[argparse.Namespace, config_mod.Config], int]:
    """A command of cli_desktop, imported when it runs: `clean` needs none of its modules."""

    def run(args: argparse.Namespace, config: config_mod.Config) -> int:
        from safeshare import cli_desktop

        command: Callable[[argparse.Namespace, config_mod.Config], int] = getattr(cli_desktop, name)
        return command(args, config)

    return run


def run_daemon(args: argparse.Namespace, config: config_mod.Config) -> int:
    from safeshare import paths
    from safeshare.daemon import Daemon
    from safeshare.instance import AlreadyRunning
    from safeshare.notify import Notifier
    from safeshare.places import describe_position

    notifier = Notifier(
        config.notify, config.output, place=describe_position if config.notify.place_names else None
    )
    try:
        logsetup.configure(paths.log_dir(), args.verbose)
        daemon = Daemon(
            config,
            on_result=notifier.file_done,
            notice=notifier.notice,
            on_seen=notifier.file_seen,
            inform=notifier.inform,
        )
        notifier.busy = daemon.cleaning_soon  # a burst is summed up once it is all cleaned
        return daemon.run()
    except AlreadyRunning as exc:
        say(f"safeshare: {exc}")
        return EXIT_FAILED
    except SafeshareError as exc:  # the ledger cannot be opened; ConfigError, VisionUnavailable
        logging.getLogger("safeshare").error("cannot run: %s", exc)
        say(f"safeshare: cannot run: {exc}")
        tell_not_running(notifier, exc)
        # A configuration problem: restarting would not mend it (the systemd unit does not).
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED
    except OSError as exc:  # the state or log folder cannot be made or used: no restart mends it
        problem = SafeshareError(f"its state or log folder cannot be used: {describe_os_error(exc)}")
        say(f"safeshare: cannot run: {problem} ({exc.filename or ''})")
        tell_not_running(notifier, problem)
        return EXIT_USAGE
    else:
        with contextlib.suppress(OSError):
            (paths.state_dir() / NOT_RUNNING).unlink(missing_ok=True)  # ran and stopped: said anew
    finally:
        notifier.close()


def tell_not_running(notifier: Notifier, exc: Exception) -> None:
    from safeshare import paths

    if notifier.settings.when != "never" and not_running_is_news(paths.state_dir(), str(exc)):
        notifier.notice("safeshare is not running", f"{exc}.")


def not_running_is_news(state_dir: Path, reason: str, now: float | None = None) -> bool:
    """True unless the same reason was said within REPEAT_NOTICE seconds: a service manager
    that restarts a daemon refused for the same reason (launchd, the Windows task) must not
    bring the same notification every minute."""
    import json
    import time

    now = time.time() if now is None else now
    record = state_dir / NOT_RUNNING
    try:
        said = json.loads(record.read_text(encoding="utf-8"))
        if said.get("reason") == _gist(reason) and now - float(said.get("at", 0)) < REPEAT_NOTICE:
            return False
    except (OSError, ValueError, AttributeError):
        pass  # never said, or unreadable: say it
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"reason": _gist(reason), "at": now}), encoding="utf-8")
    except OSError:
        pass  # cannot remember it: it may be said again, which is better than never
    return True


def _gist(reason: str) -> str:
    """A reason without its numbers (a pid, a time, a port): the same problem at each start."""
    import re

    return re.sub(r"\d+", "#", reason)


def run_service(args: argparse.Namespace, config: config_mod.Config) -> int:
    from safeshare import cli_desktop
    from safeshare.service import choose_backend, status_lines

    backend = choose_backend(config)
    status = cli_desktop.carry(backend, args, lambda: status_lines(backend))
    if status != EXIT_OK or args.action == "status":
        return status
    status = cli_desktop.run_integrate(args, config)  # "Clean a copy" in the file manager, too
    if status != EXIT_OK:
        done = "installed" if args.action == "install" else "removed"
        say(f"safeshare: the login service was {done}; the file-manager entries were not (see above)")
    return status


def run_status(args: argparse.Namespace, config: config_mod.Config) -> int:
    from safeshare.status import status_lines

    print("\n".join(status_lines(config)))
    return EXIT_OK


def run_config(args: argparse.Namespace, config: config_mod.Config) -> int:
    from safeshare.status import config_lines

    print("\n".join(config_lines(config)))
    return EXIT_OK


def _vision_step(config: VisionConfig, max_pixels: int, wanted: bool) -> VisionStep | None:
    """`VisionStep.if_available`, its module imported only when it may be used (~3 ms of a
    start-up with --no-vision)."""
    if not wanted and not config.redact:
        return None
    from safeshare.vision.step import VisionStep

    return VisionStep.if_available(config, max_pixels, wanted)


def run_clean(args: argparse.Namespace, config: config_mod.Config) -> int:
    out_dir: Path = (args.output or config.output).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        print(f"safeshare: {shown(out_dir)}: the output must be a folder", file=sys.stderr)
        return EXIT_USAGE
    jobs, skipped = collect(args.paths, out_dir)
    workers = workers_for(jobs)
    try:
        vision = _vision_step(config.vision, config.clean.max_pixels, not args.no_vision)
    except VisionUnavailable as exc:  # never a copy that keeps what the user asked to hide
        say(f"safeshare: nothing cleaned: {config.source or 'configuration'}: {exc}")
        return EXIT_USAGE
    pipeline = Pipeline(pipeline_settings(config.clean, args.rename, args.convert_to, workers), vision)
    progress = Progress(len(jobs))
    status = EXIT_OK
    done: list[Result] = []
    try:
        for result in clean_all(jobs, pipeline, out_dir, workers, vision):
            done.append(result)
            progress.clear()
            if args.json:
                print(clean_json(result), flush=True)
            else:
                print(clean_line(result), file=sys.stdout if result.ok else sys.stderr, flush=True)
            status = status if result.ok else EXIT_FAILED
            progress.step()
    finally:
        if vision is not None:
            vision.close()  # its worker holds ~1 GB: gone now, not 30 s later
    progress.clear()
    if skipped and not args.json:
        print(f"skipped {skipped} file(s) in folders that are not images", file=sys.stderr)
    if args.notify:
        from safeshare import cli_desktop

        cli_desktop.notify_results(done, config, out_dir)
    return status


def run_inspect(args: argparse.Namespace, config: config_mod.Config) -> int:
    from safeshare.inspector import inspect_file

    status = EXIT_OK
    max_bytes = config.clean.max_file_mb << 20
    jobs, _ = collect(args.paths, None)
    # inspect publishes nothing, so it needs no redaction: it looks if it can
    looking = dataclasses.replace(config.vision, redact=())
    vision = _vision_step(looking, config.clean.max_pixels, not args.no_vision)
    try:
        for job in jobs:
            report = inspect_file(job.source, max_bytes, vision)
            if args.json:
                print(inspect_json(report), flush=True)
            else:
                print("\n".join(inspect_lines(report)), flush=True)
            status = EXIT_FAILED if report.error else status
    finally:
        if vision is not None:
            vision.close()
    return status
