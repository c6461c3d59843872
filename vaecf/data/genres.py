"""Genres as labels for plots: the genre a user leans towards, an item's most specific genre.

MovieLens lists one or more genres per movie (``RatingTable.item_genres``, raw item id →
list of names). Nearly every user clicks more dramas and comedies than anything else, so
colouring users by their *most clicked* genre paints almost everyone "Drama". The
*leaning* genre is more telling: the genre whose share of the user's clicks most exceeds
its share of all clicks,

    leaning(u) = argmax_g  c_ug / n_u − share(g),

where ``c_ug`` counts the user's clicks on genre ``g`` (a movie with k genres adds 1/k to
each), ``n_u`` is the user's click total and ``share(g)`` the genre's share of everyone's
clicks. It is a difference, not a ratio, so one click on a rare genre among many dramas
does not make a user "Documentary".

An item's *most specific* genre is the least common of those it lists (counted over the
items given): *Toy Story*, listed as Animation, Children's and Comedy, is "Animation".
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["genre_matrix", "leaning_genres", "specific_genres"]


def genre_matrix(item_ids, item_genres: dict) -> tuple[sp.csr_matrix, list]:
    """Items × genres weights (1/k for each of an item's k genres) and the genre names.

    Rows follow ``item_ids`` (the click matrix's columns); an item without genres gets an
    empty row. Genre names are sorted; MovieLens' "(no genres listed)" is left out.
    """
    listed = [[g for g in item_genres.get(item, []) if g != "(no genres listed)"]
              for item in np.asarray(item_ids).tolist()]
    names = sorted({g for genres in listed for g in genres})
    column = {name: j for j, name in enumerate(names)}
    rows, cols, weights = [], [], []
    for i, genres in enumerate(listed):
        for g in genres:
            rows.append(i)
            cols.append(column[g])
            weights.append(1.0 / len(genres))
    matrix = sp.csr_matrix((weights, (rows, cols)), shape=(len(listed), len(names)))
    return matrix, names


def leaning_genres(clicks, item_ids, item_genres: dict, reference=None) -> np.ndarray:
    """Each user's leaning genre (module docstring) as an array of names.

    Args:
        clicks: users × items click matrix whose columns are ``item_ids``.
        item_genres: raw item id → list of genres (``RatingTable.item_genres``).
        reference: the click matrix the overall shares come from (default ``clicks``);
            pass the training matrix to compare held-out users with everyone.

    Returns:
        ``(users,)`` array of genre names; "no genre" for a user none of whose clicks has one.
    """
    if not item_genres:
        raise ValueError("no item genres: this dataset has none (synthetic data, or MovieLens "
                         "without its movies file); colour by another property.")
    weights, names = genre_matrix(item_ids, item_genres)
    if clicks.shape[1] != weights.shape[0]:
        raise ValueError(f"the click matrix has {clicks.shape[1]} items but {weights.shape[0]} "
                         "item ids were given; pass the ids of its columns (split.item_ids).")
    counts = np.asarray((sp.csr_matrix(clicks) @ weights).todense())  # users × genres
    everyone = np.asarray((sp.csr_matrix(reference if reference is not None else clicks)
                           @ weights).sum(axis=0)).ravel()
    share = everyone / max(everyone.sum(), 1e-12)
    totals = counts.sum(axis=1, keepdims=True)
    excess = counts / np.maximum(totals, 1e-12) - share
    labels = np.array(names + ["no genre"], dtype=object)[
        np.where(totals.ravel() > 0, np.argmax(excess, axis=1), len(names))]
    return labels.astype(str)


def specific_genres(item_ids, item_genres: dict) -> np.ndarray:
    """Each item's most specific genre (module docstring); "no genre" where none is listed."""
    if not item_genres:
        raise ValueError("no item genres: this dataset has none (synthetic data, or MovieLens "
                         "without its movies file); colour by another property.")
    weights, names = genre_matrix(item_ids, item_genres)
    listed = weights.copy()
    listed.data[:] = 1.0
    listed.sort_indices()  # genres alphabetical within a row: ties go to the first name
    items_per_genre = np.asarray(listed.sum(axis=0)).ravel()
    labels = np.full(weights.shape[0], "no genre", dtype=object)
    for row in range(weights.shape[0]):
        genres = listed.indices[listed.indptr[row]:listed.indptr[row + 1]]
        if genres.size:
            labels[row] = names[genres[np.argmin(items_per_genre[genres])]]
    return labels.astype(str)
