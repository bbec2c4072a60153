"""The blocking shell: ``NanoGPT`` (``client``) moves bytes over ``http.client`` sockets
(``http``, with the deadline watchdog) and reads streams (``stream``, and ``parsed`` for
structured ones); every decision is made by ``nanogpt._core``."""
