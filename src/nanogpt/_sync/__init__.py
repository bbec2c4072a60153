"""The blocking shell: ``NanoGPT`` (``client``) moves bytes over ``http.client`` sockets
(``http``, with the deadline watchdog) and reads streams (``stream``); every decision is made by
``nanogpt._core``."""
