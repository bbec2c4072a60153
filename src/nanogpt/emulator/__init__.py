"""A NanoGPT-speaking HTTP server on loopback, for tests and offline demos.

>>> from nanogpt.emulator import Emulator, Fault
>>> with Emulator() as emu:
...     emu.inject(Fault(status=429, retry_after=0))   # the next request gets a 429
...     ...                                              # point a client at emu.base_url

Run it on its own with ``python -m nanogpt.emulator --port 8080``.

Where things live: ``_server`` (the thread and loop, the middleware that bounds, records and
picks faults), ``_handlers`` (the route table and one handler per endpoint), ``_chat`` (request
checks, whole-body and chunk shapes), ``_framing`` (the stream on the wire: documented format
or quirks), ``_replies`` (what the model says: text, tool calls, structured output),
``_schema`` (an instance of a JSON schema), ``_regex`` (a string that a schema ``pattern``
matches), ``_faults`` (the ``Fault`` fields, the queue and the limits on fault headers),
``_records`` (bounded request records), ``_errors`` (error bodies), ``_catalog`` (the models),
``_batches`` (the file-backed Batch API: ``/files`` and ``/batches``).
"""

from ._faults import FAULT_HEADER, TOKENS_HEADER, Fault
from ._handlers import INVALID_API_KEY
from ._records import RecordedRequest
from ._server import Emulator

__all__ = ["FAULT_HEADER", "INVALID_API_KEY", "TOKENS_HEADER", "Emulator", "Fault",
           "RecordedRequest"]
