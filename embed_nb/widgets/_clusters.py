"""Colour categories for ProjectionView: clusters (KMeans, HDBSCAN), their keywords, and the
compaction of many categories into a few named ones plus "other"."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._static import OTHER_COLOR, category_palette

__all__ = ["MAX_CATEGORIES", "cluster_codes", "cluster_keywords", "compact_categories"]

# At most this many named colour categories; the rest share "other".
MAX_CATEGORIES = 20


def cluster_keywords(texts: Sequence[str], clusters: np.ndarray, n_words: int = 3) -> list[str]:
    """A few words that mark each cluster (class-based TF-IDF over its texts)."""
    from sklearn.feature_extraction.text import CountVectorizer

    n_clusters = int(clusters.max()) + 1 if len(clusters) else 0
    names = [f"cluster {c}" for c in range(n_clusters)]
    try:
        vectorizer = CountVectorizer(
            stop_words="english", max_features=20_000, token_pattern=r"(?u)\b[a-zA-Z]{3,}\b"
        )
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # no words at all
        return names
    words = np.array(vectorizer.get_feature_names_out())
    totals = np.asarray(counts.sum(axis=0)).ravel() + 1.0
    mean_size = len(texts) / max(n_clusters, 1)
    for c in range(n_clusters):
        members = clusters == c
        if not members.any():
            continue
        tf = np.asarray(counts[members].sum(axis=0)).ravel()
        score = tf / (tf.sum() or 1.0) * np.log1p(mean_size / totals)
        top = [words[i] for i in np.argsort(-score)[:n_words] if tf[i] > 0]
        if top:
            names[c] = f"{c}: " + ", ".join(top)
    return names


def cluster_codes(
    method: str, unit: np.ndarray, layout: np.ndarray, n_clusters: int, texts: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Cluster ids per point and a keyword name per cluster, HDBSCAN's noise last as "noise".

    ``"kmeans"`` clusters the unit vectors into ``n_clusters``; ``"hdbscan"`` the 2-D layout.
    """
    if method == "kmeans":
        from sklearn.cluster import KMeans

        n_clusters = min(n_clusters, len(unit))
        codes = KMeans(n_clusters=n_clusters, n_init=3, random_state=0).fit_predict(unit)
    else:
        from sklearn.cluster import HDBSCAN

        # On the 2-D layout: density in 384 dimensions is weak, and this is fast.
        min_size = max(5, len(unit) // 100)
        codes = HDBSCAN(min_cluster_size=min_size, copy=True).fit_predict(layout)
    codes = np.asarray(codes, dtype=np.int64)
    noise = codes < 0
    names = cluster_keywords(texts, np.where(noise, 0, codes)) if len(codes) else []
    if noise.any():  # HDBSCAN's noise is its own category, last
        codes = np.where(noise, len(names), codes)
        names = [*names, "noise"]
    return codes, names


def compact_categories(
    codes: np.ndarray, names: list[str]
) -> tuple[np.ndarray, list[str], list[str]]:
    """uint8 categories with at most :data:`MAX_CATEGORIES` named ones (the largest; the rest
    become "other"), their names and colours."""
    n_codes = int(codes.max()) + 1 if len(codes) else 0
    if n_codes <= MAX_CATEGORIES:
        names = names[:n_codes] + [f"{c}" for c in range(len(names), n_codes)]
        colors = category_palette(len(names))
        if names and names[-1] == "noise":
            colors[-1] = OTHER_COLOR
        return codes.astype(np.uint8), names, colors
    sizes = np.bincount(codes, minlength=n_codes)
    keep = np.argsort(-sizes, kind="stable")[: MAX_CATEGORIES - 1]
    remap = np.full(n_codes, MAX_CATEGORIES - 1, np.uint8)
    remap[keep] = np.arange(len(keep), dtype=np.uint8)
    kept_names = [names[c] if c < len(names) else str(c) for c in keep]
    return remap[codes], [*kept_names, "other"], [*category_palette(len(keep)), OTHER_COLOR]
