"""The sans-I/O core: every protocol decision, and no I/O.

Nothing in this package opens a socket, starts a thread or a task, or sleeps; it is handed bytes,
headers and clock readings, and returns requests, typed answers, errors and decisions. Both shells
(``nanogpt._sync``: blocking, on ``http.client``; ``nanogpt._async``: asyncio, on aiohttp) call
it, so a decision is made in one place:

- ``params``: the chat parameter table, request bodies, header checks.
- ``client``: ``Request`` and ``ClientCore`` (what to send, how to read each answer).
- ``plan``: ``CallPlan``: retries, backoff, failover across hosts, redirects.
- ``stream``: SSE bytes to typed chunks (``StreamCore``) and the whole answer (``Accumulator``).
- ``sse``: the line decoder; ``decompress``: bounded gzip/deflate; ``multipart``: upload bodies.
- ``types``: the typed answers; ``errors``: the exception tree; ``config``: settings and
  credentials; ``redact``: keeping secrets out of text.
"""
