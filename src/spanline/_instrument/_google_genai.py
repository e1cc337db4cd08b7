"""The google-genai SDK methods traced by ``spanline.instrument("google-genai")``."""

from __future__ import annotations

from spanline._instrument._recipe import Target

__all__ = ["targets"]


def targets() -> list[Target]:
    """``models.generate_content`` and ``generate_content_stream``, sync and async."""
    from google.genai import models

    return [
        Target(owner, method, f"google_genai.models.{method}", "gcp.gen_ai", "generate_content")
        for owner in (models.Models, models.AsyncModels)
        for method in ("generate_content", "generate_content_stream")
    ]
