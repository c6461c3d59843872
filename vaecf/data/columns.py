"""Columns of a CSV header mapped by name: ``userId``/``movieId``/``rating``/``timestamp``
and the obvious aliases (``user``, ``user_id``, ``item``, ``itemId``, ``score``, ...)."""
from __future__ import annotations

__all__ = ["COLUMN_ALIASES", "map_columns", "looks_like_header"]

COLUMN_ALIASES = {
    "user": ("userid", "user", "user_id", "uid", "users", "customer", "customer_id"),
    "item": ("movieid", "movie", "movie_id", "item", "itemid", "item_id", "iid", "items",
             "product", "product_id"),
    "rating": ("rating", "ratings", "score", "stars", "value"),
    "timestamp": ("timestamp", "time", "ts", "date", "datetime"),
}


def _normalised(name: str) -> str:
    return name.strip().strip("\"'").strip().lower().replace("-", "_").replace(" ", "_")


def looks_like_header(fields: list[str]) -> bool:
    """Whether a first line names columns rather than holding a record (any field that is
    not a number and is one of the known column names)."""
    known = {alias for aliases in COLUMN_ALIASES.values() for alias in aliases}
    return any(_normalised(f) in known for f in fields)


def map_columns(fields: list[str], source: str, required=("user", "item", "rating"),
                error: type[Exception] = ValueError) -> dict[str, int]:
    """The position of each known column (``user``, ``item``, ``rating``, ``timestamp``).

    Columns with other names are ignored. A required column that is missing, or a
    column named twice, raises ``error`` listing the columns seen.
    """
    found: dict[str, int] = {}
    for position, field in enumerate(fields):
        name = _normalised(field)
        for role, aliases in COLUMN_ALIASES.items():
            if name in aliases:
                if role in found:
                    raise error(f"{source}: the header names the {role} column twice "
                                f"({fields[found[role]]!r} and {field!r}); keep one.")
                found[role] = position
    missing = [role for role in required if role not in found]
    if missing:
        accepted = "; ".join(f"{role}: {', '.join(COLUMN_ALIASES[role][:4])}"
                             for role in missing)
        raise error(f"{source}: the header has columns {', '.join(map(repr, fields))} but no "
                    f"{' or '.join(missing)} column. Name them in the header ({accepted}).")
    return found
