"""How a genre is named: the one matching rule (the slug) and the one unknown-genre error.

Every place that takes a genre name from a person (``import_folder --genre``, folder names,
``ingest --genres``, ``demo_catalog --genres``, a metadata CSV) matches it on the genre's
slug: "Hip Hop", "hip-hop", "hip_hop" and "HIP HOP" are one genre. When no slug is equal,
slugs are compared without their hyphens, so a folder called "hiphop" is "Hip Hop" too.

The database lookup is ``catalog.selectors.genre_by_name``; `match_genre_name` applies the
same rule to a list of names (the demo generator's styles), without the database.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.text import slugify


def genre_slug(name: str) -> str:
    """The genre's slug: Django's slugify, with underscores read as spaces ("" if none)."""
    return slugify(str(name).replace("_", " "))


def loose_slug(slug: str) -> str:
    """The slug without hyphens: the second try when no slug is equal ("hiphop")."""
    return slug.replace("-", "")


def match_genre_name(name: str, names: Iterable[str]) -> str | None:
    """The one of `names` that `name` names (see the module docstring), or None."""
    slug = genre_slug(name)
    if not slug:
        return None
    names = list(names)
    by_slug = {genre_slug(n): n for n in reversed(names)}  # the first name wins a tie
    by_loose = {loose_slug(genre_slug(n)): n for n in reversed(names)}
    return by_slug.get(slug) or by_loose.get(loose_slug(slug))


class UnknownGenre(ValueError):
    """No genre matches this name; the message lists the known ones."""

    def __init__(self, name: str, known: Iterable[str]):
        self.name = name
        self.known = list(known)
        what = f"Unknown genre {name!r}" if str(name).strip() else "No genre given"
        super().__init__(f"{what}. Known genres: {', '.join(self.known) or '(none)'}.")
