"""The asyncio shell: ``AsyncNanoGPT`` (``client``) moves bytes over aiohttp, reads bodies
(``body``) and streams (``stream``); every decision is made by ``nanogpt._core``."""
