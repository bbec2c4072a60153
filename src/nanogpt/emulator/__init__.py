"""A NanoGPT-speaking HTTP server on loopback, for tests and offline demos.

>>> from nanogpt.emulator import Emulator, Fault
>>> with Emulator() as emu:
...     emu.inject(Fault(status=429, retry_after=0))   # the next request gets a 429
...     ...                                              # point a client at emu.base_url

Run it on its own with ``python -m nanogpt.emulator --port 8080``.
"""

from ._faults import FAULT_HEADER, TOKENS_HEADER, Fault
from ._records import RecordedRequest
from ._server import Emulator

__all__ = ["FAULT_HEADER", "TOKENS_HEADER", "Emulator", "Fault", "RecordedRequest"]
