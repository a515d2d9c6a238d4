"""Search parameters and the search form, shared by the pages and the REST API.

Every error message names the parameter it is about, so a 400 says what to fix.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from urllib.parse import urlencode

from django import forms

from search.choices import Metric, Representation
from search.models import SearchSettings
from search.ranking import DURATION_MAX, MAX_PER_ARTIST_MAX
from search.tags import UnknownTag, parse_tags
from search.versions import VERSIONS_CHOICES, VERSIONS_COLLAPSE

K_MIN, K_MAX = 1, 100
PARAM_NAMES = ("representation", "metric", "k", "boost")
# Result filters of a similarity search (results page and GET /api/videos/{id}/similar/).
FILTER_NAMES = ("max_per_artist", "min_duration", "max_duration", "tags", "versions")


class InvalidParams(ValueError):
    """Bad search parameters; `errors` maps each bad parameter to a message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in errors.items()))


@dataclass(frozen=True)
class SearchParams:
    representation: str
    metric: str
    k: int
    boost: float
    # None: SearchSettings.max_per_artist (search.selectors resolves it).
    max_per_artist: int | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    tags: tuple[str, ...] = ()
    # "collapse": hide the query's versions, one row per song (search.versions); "all": no.
    versions: str = VERSIONS_COLLAPSE

    def as_dict(self) -> dict:
        return asdict(self)

    def querystring(self) -> str:
        """The parameters as a query string; unset filters are left out."""
        values = {}
        for name, value in self.as_dict().items():
            if value is None or value == () or (name == "versions" and value == VERSIONS_COLLAPSE):
                continue
            values[name] = ",".join(value) if isinstance(value, tuple | list) else value
        return urlencode(values)

    def with_representation(self, representation: str) -> SearchParams:
        return replace(self, representation=representation)

    def with_max_per_artist(self, max_per_artist: int) -> SearchParams:
        return replace(self, max_per_artist=max_per_artist)


def defaults() -> SearchParams:

    s = SearchSettings.cached()
    return SearchParams(
        representation=s.default_representation,
        metric=s.default_metric,
        k=min(max(int(s.k), K_MIN), K_MAX),
        boost=float(s.genre_boost) if 0 < s.genre_boost <= 1 else 1.0,
    )


def _choice_help(choices) -> str:
    return ", ".join(value for value, _ in choices)


def _seconds(raw: str, name: str) -> float | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise forms.ValidationError(
            f"{name} must be a number of seconds (got {raw[:40]!r})."
        ) from None
    if not math.isfinite(value) or not 0 <= value <= DURATION_MAX:
        raise forms.ValidationError(
            f"{name} must be between 0 and {DURATION_MAX:.0f} seconds (got {raw[:40]})."
        )
    return value


class ParamsForm(forms.Form):
    """representation / metric / k / boost and the result filters; blank means the admin's
    default (SearchSettings) or no filter."""

    representation = forms.CharField(required=False)
    metric = forms.CharField(required=False)
    k = forms.CharField(required=False, label="Results (k)")
    boost = forms.CharField(required=False, label="Same-genre boost")
    max_per_artist = forms.CharField(required=False, label="At most per artist")
    min_duration = forms.CharField(required=False, label="Shortest (s)")
    max_duration = forms.CharField(required=False, label="Longest (s)")
    tags = forms.CharField(required=False, label="Music tags")
    versions = forms.CharField(required=False, label="Alternate versions")

    def clean_versions(self) -> str:
        raw = (self.cleaned_data.get("versions") or "").strip()
        value = raw.lower() or VERSIONS_COLLAPSE
        if value not in VERSIONS_CHOICES:
            raise forms.ValidationError(
                f"versions must be one of {', '.join(VERSIONS_CHOICES)} (got {raw[:40]!r})."
            )
        return value

    def clean_max_per_artist(self) -> int | None:
        raw = (self.cleaned_data.get("max_per_artist") or "").strip()
        if not raw:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise forms.ValidationError(
                f"max_per_artist must be a whole number (got {raw[:40]!r})."
            ) from None
        if not 1 <= value <= MAX_PER_ARTIST_MAX:
            raise forms.ValidationError(
                f"max_per_artist must be between 1 and {MAX_PER_ARTIST_MAX} (got {value})."
            )
        return value

    def clean_min_duration(self) -> float | None:
        return _seconds(self.cleaned_data.get("min_duration"), "min_duration")

    def clean_max_duration(self) -> float | None:
        return _seconds(self.cleaned_data.get("max_duration"), "max_duration")

    def clean_tags(self) -> tuple[str, ...]:
        try:
            return parse_tags(self.cleaned_data.get("tags") or "")
        except UnknownTag as exc:
            raise forms.ValidationError(f"tags: {exc}.") from None

    def clean(self):
        data = super().clean()
        low, high = data.get("min_duration"), data.get("max_duration")
        if low is not None and high is not None and low > high:
            self.add_error(
                "min_duration",
                f"min_duration ({low:g} s) must not be more than max_duration ({high:g} s).",
            )
        return data

    def clean_representation(self) -> str | None:
        value = (self.cleaned_data.get("representation") or "").strip().lower()
        if not value:
            return None
        if value not in Representation.values:
            raise forms.ValidationError(
                f"representation must be one of {_choice_help(Representation.choices)} "
                f"(got {value[:40]!r})."
            )
        return value

    def clean_metric(self) -> str | None:
        value = (self.cleaned_data.get("metric") or "").strip().lower()
        if not value:
            return None
        if value not in Metric.values:
            raise forms.ValidationError(
                f"metric must be one of {_choice_help(Metric.choices)} (got {value[:40]!r})."
            )
        return value

    def clean_k(self) -> int | None:
        raw = (self.cleaned_data.get("k") or "").strip()
        if not raw:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise forms.ValidationError(f"k must be a whole number (got {raw[:40]!r}).") from None
        if not K_MIN <= value <= K_MAX:
            raise forms.ValidationError(f"k must be between {K_MIN} and {K_MAX} (got {value}).")
        return value

    def clean_boost(self) -> float | None:
        raw = (self.cleaned_data.get("boost") or "").strip()
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise forms.ValidationError(f"boost must be a number (got {raw[:40]!r}).") from None
        if not math.isfinite(value) or not 0 < value <= 1:
            raise forms.ValidationError(
                f"boost must be greater than 0 and at most 1 (1 turns it off; got {raw[:40]})."
            )
        return value

    def params(self) -> SearchParams:
        """The validated parameters with defaults filled in (call after is_valid())."""
        base = defaults()
        data = self.cleaned_data
        return SearchParams(
            representation=data.get("representation") or base.representation,
            metric=data.get("metric") or base.metric,
            k=data.get("k") or base.k,
            boost=data["boost"] if data.get("boost") is not None else base.boost,
            max_per_artist=data.get("max_per_artist"),
            min_duration=data.get("min_duration"),
            max_duration=data.get("max_duration"),
            tags=data.get("tags") or (),
            versions=data.get("versions") or VERSIONS_COLLAPSE,
        )

    def error_dict(self) -> dict[str, str]:
        return {field: " ".join(str(e) for e in errs) for field, errs in self.errors.items()}


def parse_params(data) -> SearchParams:
    """Validate a QueryDict/dict of parameters; raises InvalidParams naming each bad one."""
    form = ParamsForm({key: data.get(key, "") for key in (*PARAM_NAMES, *FILTER_NAMES)})
    if not form.is_valid():
        raise InvalidParams(form.error_dict())
    return form.params()


class SearchForm(ParamsForm):
    """The home page form: a YouTube URL or an uploaded file, plus the parameters."""

    url = forms.CharField(
        required=False,
        max_length=500,
        label="YouTube URL",
        widget=forms.URLInput(attrs={"placeholder": "https://www.youtube.com/watch?v=…"}),
    )
    file = forms.FileField(
        required=False,
        label="or upload a video/audio file",
        widget=forms.ClearableFileInput(attrs={"accept": "video/*,audio/*"}),
    )

    def clean(self):
        data = super().clean()
        url = (data.get("url") or "").strip()
        upload = data.get("file")
        if url and upload:
            raise forms.ValidationError("Give either a YouTube URL or a file, not both.")
        if not url and not upload and "url" not in self.errors and "file" not in self.errors:
            raise forms.ValidationError("Paste a YouTube URL or choose a file to upload.")
        data["url"] = url
        return data
