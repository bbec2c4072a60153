"""The asyncio shell: ``AsyncNanoGPT`` (``client``) moves bytes over aiohttp; every decision is
made by ``nanogpt._core``."""
