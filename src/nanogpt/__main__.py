"""``nanogpt`` / ``python -m nanogpt``: a minimal command line until the full CLI lands.

``nanogpt [--offline] [--base-url URL] chat [-m MODEL] PROMPT`` streams one answer. With
``--offline`` it starts the emulator in-process on a free loopback port: no key, no network.
"""

from __future__ import annotations

import argparse
import sys

DEFAULT_MODEL = "openai/gpt-5-mini"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="nanogpt", description="Talk to NanoGPT.")
    p.add_argument("--offline", action="store_true",
                   help="run against the built-in emulator (no key, no network)")
    p.add_argument("--base-url", help="API base URL (default: NANOGPT_BASE_URL or nano-gpt.com)")
    sub = p.add_subparsers(dest="command", required=True)
    chat = sub.add_parser("chat", help="ask one question and stream the answer")
    chat.add_argument("prompt", nargs="*", help="the prompt (default: read from stdin)")
    chat.add_argument("-m", "--model", default=DEFAULT_MODEL)
    args = p.parse_args(argv)

    prompt = " ".join(args.prompt)
    if not prompt and not sys.stdin.isatty():
        prompt = sys.stdin.read()
    if not prompt.strip():
        print("nanogpt: error: give a prompt, e.g. nanogpt chat 'Hello'", file=sys.stderr)
        return 2

    from . import NanoGPT, NanoGPTError

    emulator = None
    try:
        if args.offline:
            from .emulator import Emulator

            emulator = Emulator().start()
            client = NanoGPT("sk-nano-offline", base_url=emulator.base_url)
        else:
            client = NanoGPT(base_url=args.base_url)
        with client, client.chat.completions.create(
                model=args.model, messages=[{"role": "user", "content": prompt}],
                stream=True) as stream:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    sys.stdout.write(chunk.choices[0].delta.content)
                    sys.stdout.flush()
            sys.stdout.write("\n")
            if stream.cost is not None:
                print(f"[{args.model}; cost ${stream.cost}]", file=sys.stderr)
    except NanoGPTError as e:
        print(f"nanogpt: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if emulator is not None:
            emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
