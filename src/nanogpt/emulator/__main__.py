"""``python -m nanogpt.emulator [--host H] [--port N] [--quirks]``: run it in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from . import Emulator


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nanogpt.emulator",
                                description="Run a NanoGPT-speaking server on loopback.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--quirks", action="store_true",
                   help="stream with the quirks seen in the wild instead of the documented "
                        "format")
    args = p.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Emulator(args.host, args.port, quirks=args.quirks) as emu:
        if emu.exposure_warning:
            print(emu.exposure_warning, file=sys.stderr, flush=True)
        print(f"NanoGPT emulator listening; base URL: {emu.base_url}", flush=True)
        print("any non-empty API key is accepted; Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
