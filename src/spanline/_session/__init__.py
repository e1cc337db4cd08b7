"""The session: the settings table, ``configure_observability``, ``flush`` and
``shutdown``, child processes, signal handling and the live summary.

It sits on top of the package and hands the layers below what they need (the
pipeline, capture settings, prices, id and clock sources) instead of being imported
by them. ``import spanline`` loads only ``_configure``, which defers the rest to the
first ``configure_observability()``."""
