"""The sans-I/O core: every protocol decision, and no I/O.

Nothing in this package opens a socket, starts a thread or a task, or sleeps; it is handed bytes,
headers and clock readings, and returns requests, typed answers, errors and decisions. Both shells
(``nanogpt._sync``: blocking, on ``http.client``; ``nanogpt._async``: asyncio, on aiohttp) call
it, so a decision is made in one place:

- ``transport``: THE boundary: what a shell hands the core (``TransportFailure``, and the
  ``StreamBody``/``AsyncStreamBody`` protocols its stream bodies satisfy).
- ``params``: the chat parameter table, request bodies, header checks.
- ``options``: ``ClientOptions``: every client setting, its default and its check, once.
- ``client``: ``Request`` and ``ClientCore`` (what to send, how to read each answer).
- ``batches``: the Batch API's requests, typed objects and decoding (``BatchCore``).
- ``embeddings``: embeddings and the embedding model list: checks, the split of a long input
  into requests of 2048 and the join of their answers (``EmbeddingJob``), base64 vectors
  decoded, the error that keeps what a partly failed split got (``EmbeddingsIncompleteError``).
- ``images``: image generation and edits (checks, data URLs, requests) and their typed
  answers (``ImagesCore``, ``ImagesResponse``), the image model list.
- ``account``: usage by day and model, the subscription's quotas, token counts: checks,
  requests and typed results (``UsageReport``, ``SubscriptionUsage``, ``TokenCount``).
- ``audio``: speech and transcription requests, their typed results, the audio model list
  (``AudioCore``), and what both shells' speech streams share (``AudioStreamBase``).
- ``plan``: ``CallPlan``: retries, backoff, failover across hosts, redirects, the 415 that
  sends a compressed body again plain.
- ``compression``: compressed request bodies: when, how, and the hosts that refused them.
- ``deadlines``: every time bound of a call, from a ``Timeout`` and clock readings.
- ``stream``: SSE bytes to typed chunks (``StreamCore``), the whole answer (``Accumulator``),
  and what both shells' stream objects share (``StreamBase``).
- ``structured``: structured outputs (``parse``): a JSON schema from a type, made strict where
  it can be, and the answer decoded back into the type (``ParsedChatCompletion``).
- ``tools``: ``function_tool``: a tool definition from a typed function, its calls' arguments
  decoded into the parameters' types.
- ``sse``: the line decoder; ``decompress``: bounded gzip/deflate; ``multipart``: upload bodies.
- ``proxies``: which proxy (if any) for which URL, from ``proxy=`` or the environment.
- ``types``: the typed answers; ``errors``: the exception tree; ``config``: settings and
  credentials; ``redact``: keeping secrets out of text.
- ``results``: the request id on every result, and the raw answers of
  ``client.with_raw_response`` (``RawResponse``).
- ``signature``: the signature ``help()`` shows for ``chat.completions.create``, made from
  the parameter table.
- ``fuzzy``: the ids a mistyped model id most likely meant (``models.retrieve``'s error).
- ``routing``: chat's ``provider=`` (a provider id or the routing object, checked); light,
  since ``params`` loads it with every client. ``providers``: a model's provider list
  (``models.providers``, typed), loaded on first use.
- ``search``: web search (``web.search``): its checked request and typed answer.
- ``suffixes``: model suffixes (``:online/linkup-deep``, ``:memory-30``...): ``ModelName``
  and ``model_id`` build, check and read them.

``tests/project/test_layout.py`` holds every module here to that: none imports ``socket``,
``ssl``, ``select``, ``selectors``, ``threading``, ``asyncio``, aiohttp, ``http.client``,
``urllib.request``, ``subprocess``, ``time`` or a shell. Allowed exceptions, each a clock or
lock that is no I/O:

- ``plan``: ``time``, the default clocks of ``CallPlan`` and ``HostPool`` (tests pass their
  own), and the wall clock for a ``Retry-After`` given as an HTTP date.
- ``stream``: ``time``, ``StreamCore``'s default clock (tests pass their own).
- ``client``: ``time``, the age of the cached model lists.
- ``redact``: ``threading``, a lock around the process-wide record of secrets seen, which the
  blocking client's threads share; no thread is started.

Two file writes (none of the modules above), each writing bytes the caller already holds to
the file the caller names (what the method is for): ``images``' ``Image.save(path)`` and
``audio``'s ``SpeechAudio.save(path)`` (``write_to_file``).
"""
