"""The blocking shell: ``NanoGPT`` (``client``) moves bytes over ``http.client`` sockets
(``http``); every decision is made by ``nanogpt._core``."""
