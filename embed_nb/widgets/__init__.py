"""Notebook widgets (anywidget): similarity matrix, projection view, reranked list, and two
embeddings compared side by side.

The JavaScript is bundled from ``js/`` into ``embed_nb/static/``; nothing loads from a CDN.
Importing this package is cheap: scipy, scikit-learn and umap-learn load on first use.
"""

from __future__ import annotations

from ._base import BundleMissingError
from .compare import CompareView
from .projection import ProjectionView
from .rerank import RerankList
from .similarity import SimilarityMatrix

__all__ = ["BundleMissingError", "CompareView", "ProjectionView", "RerankList", "SimilarityMatrix"]
