"""``python -m nanogpt.emulator [--host H] [--port N] [--quirks]``: run it in the foreground.

A port it cannot listen on is one line on stderr and exit code 1, with the same advice as
``nanogpt emulate`` (the command line's error table tells it)."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading

from . import Emulator


def try_it(base_url: str) -> list[str]:
    """The lines that tell a new user how to talk to a running emulator: whole commands that
    work as printed when pasted into a fresh shell (no key, no base URL set), because each
    carries both in its own environment. Shell-quoted, so an IPv6 ``[::1]`` is not a glob."""
    env = f"NANOGPT_BASE_URL={shlex.quote(base_url)} NANOGPT_API_KEY=any-key"
    return ["it accepts any API key; try, from another shell:",
            f"  {env} nanogpt chat 'Hello'",
            f"  {env} nanogpt models",
            "Ctrl-C stops it"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nanogpt.emulator",
                                description="Run a NanoGPT-speaking server on loopback.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8080, help="0 picks a free port")
    p.add_argument("--quirks", action="store_true",
                   help="stream with the quirks seen in the wild instead of the documented "
                        "format")
    args = p.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        emu = Emulator(args.host, args.port, quirks=args.quirks).start()
    except OSError as e:
        from ..cli._advice import CannotListen, one_line

        print(f"{p.prog}: {one_line(CannotListen(args.host, args.port, e))[0]}",
              file=sys.stderr)
        return 1
    with emu:
        if emu.exposure_warning:
            print(emu.exposure_warning, file=sys.stderr, flush=True)
        print(f"NanoGPT emulator listening; base URL: {emu.base_url}", flush=True)
        print("\n".join(try_it(emu.base_url)), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _port(text: str) -> int:
    """A TCP port number (0: any free one)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 0 and 65535")
    return port


if __name__ == "__main__":
    raise SystemExit(main())
