"""The live dashboard: a single-file D3 page (``page``) served by ``spanline serve``."""
