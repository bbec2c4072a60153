"""The asyncio shell: ``AsyncNanoGPT`` (``client``) moves bytes over aiohttp, reads bodies
(``body``) and streams (``stream``, and ``parsed`` for structured ones); every decision is made
by ``nanogpt._core``. ``session`` owns the aiohttp session of each event loop (and releases one
nobody closed); ``aiohttp_private`` is the one place that touches aiohttp internals."""
