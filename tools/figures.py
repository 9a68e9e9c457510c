"""Matplotlib figures without pyplot (no global state, nothing to close), rendered to PNG for HTML pages."""

from __future__ import annotations

import base64
import io

from matplotlib.axes import Axes
from matplotlib.figure import Figure


def new_figure(width: float, height: float) -> tuple[Figure, Axes]:
    """Return a new figure of ``width`` × ``height`` inches with one axes."""
    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def png_bytes(figure: Figure) -> bytes:
    """Render ``figure`` as PNG (110 dpi, tight bounding box)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    """Return PNG bytes as a base64 data URI, for an ``<img>`` in a self-contained page."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_data_uri(figure: Figure) -> str:
    """Render ``figure`` as a base64 PNG data URI."""
    return data_uri(png_bytes(figure))
