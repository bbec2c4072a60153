"""A NanoGPT-speaking HTTP server on loopback, for tests and offline demos.

>>> from nanogpt.emulator import Emulator, Fault
>>> with Emulator() as emu:
...     emu.inject(Fault(status=429, retry_after=0))   # the next request gets a 429
...     ...                                              # point a client at emu.base_url

Run it on its own with ``python -m nanogpt.emulator --port 8080``.

Where things live, in the order a request meets them:

================  ===========================================================================
``_server``       ``Emulator``: socket, thread and loop, start/stop; options, ``inject``,
                  counters and the request record as tests see them
``_connections``  below any request: silent connections dropped, unparsable requests
                  answered in JSON, running out of descriptors logged once
``_pipeline``     the middleware: body bounds, recording, picking the fault, the faults
                  that act before the answer, any error turned into JSON
``_encodings``    compressed request bodies: decoded within the body bound, or 415
``_routes``       the route table: path and method -> handler (add an endpoint here)
``_account``      handlers: model lists, balance
``_completions``  handler: chat completions, whole or streamed
``_images``       handlers: image generation and edits (small valid PNGs), the image
                  models, the files of ``url`` answers
``_routing``      handler: a model's providers; which provider serves a chat request and
                  at what price (``provider``, ``X-Provider``, routing suffixes, ``:online``)
``_search``       handler: web search (``/api/web``), charged
``_embeddings``   handlers: embeddings (illustrative unit vectors) and the embedding models
``_usage``        handlers: usage by day and model (from ``_charges``), the subscription's
                  quotas (``SubscriptionPlan``, the ``subscription`` setting), token counts
``_audio``        handlers: speech (a small valid WAV), transcription, the audio models
``_batches``      handlers and state of the Batch API (``/files``, ``/batches``)
``_login``        handlers and state of the browser login (``/cli-login/...``); tests
                  approve, expire or consume a code with ``emu.logins``
``_auth``         the API key check the handlers share
``_exchange``     what the pipeline leaves on a request; resetting a connection
``_faults``       ``Fault`` (flat keywords, one record per phase), the queue, header faults
``_phases``       the fault records by phase and the function applying each (add a fault
                  here: a field in its phase's record, and its effect in that function)
``_fields``       the kinds of fault field, each with what a header may ask for
``_framing``      the stream on the wire: documented format, or quirks (``Quirks``)
``_chat``         chat request checks; whole-body and chunk shapes
``_replies``      what the model says: text, tool calls, structured output
``_schema``       an instance of a JSON schema; ``_regex``: a string a ``pattern`` matches
``_records``      bounded request records, request ids
``_charges``      what the emulator charged, one entry per billed call (``emu.ledger``)
``_errors``       error bodies
``_catalog``      the models
================  ===========================================================================
"""

from ._auth import INVALID_API_KEY
from ._faults import TOKENS_HEADER, Fault
from ._fields import FAULT_HEADER
from ._records import RecordedRequest
from ._server import Emulator
from ._usage import SubscriptionPlan

__all__ = ["FAULT_HEADER", "INVALID_API_KEY", "TOKENS_HEADER", "Emulator", "Fault",
           "RecordedRequest", "SubscriptionPlan"]
