"""Result objects: each renders itself in any Jupyter frontend and knows its history entry.

``from_entry(entry, session)`` rebuilds any of them from a recorded history entry (no network).
"""

from __future__ import annotations

from ._base import Result
from ._rebuild import from_entry
from .batch import BatchResult, CompareResult
from .embedding import EmbeddingResult
from .image import ImageItem, ImageResult
from .media import AudioResult, VideoResult
from .rerank import RerankResult
from .task import VideoTask
from .text import ChatResult, TranscriptResult

__all__ = [
    "AudioResult",
    "BatchResult",
    "ChatResult",
    "CompareResult",
    "EmbeddingResult",
    "ImageItem",
    "ImageResult",
    "RerankResult",
    "Result",
    "TranscriptResult",
    "VideoResult",
    "VideoTask",
    "from_entry",
]
