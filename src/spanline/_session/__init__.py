"""The session: the settings table, ``configure_observability``, ``flush`` and
``shutdown``, child processes, signal handling and the live summary.

It sits on top of the package and hands the layers below what they need (the
pipeline, capture settings, prices, id and clock sources) instead of being imported
by them. ``import spanline`` loads ``_configure`` and what it starts (``_parts``,
``_header``); the settings table, signal handling and the live summary load at the
first ``configure_observability()``."""
