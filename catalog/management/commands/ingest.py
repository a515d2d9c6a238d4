"""python manage.py ingest [--source spotify|youtube|csv FILE] [--genres "Blues,Jazz"]
[--per-genre 50] [--playlists FILE] [--query TEMPLATE] [--dry-run] | --report"""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog import ingest, selectors
from catalog.genres import UnknownGenre
from catalog.spotify_client import SpotifyAuthError, SpotifyCredentialsMissing
from pipeline.commandline import add_process_option, choose_place, hand_over, start_callback

MAX_PER_GENRE = 1000
SOURCES = ("spotify", "youtube", "csv")


def default_source() -> str:
    """spotify when both SPOTIPY credentials are set, else youtube."""
    configured = all(
        (value or "").strip()
        for value in (settings.SPOTIPY_CLIENT_ID, settings.SPOTIPY_CLIENT_SECRET)
    )
    return "spotify" if configured else "youtube"


class Command(BaseCommand):
    help = (
        "Add music videos per genre to the catalog and hand them to the pipeline (download, "
        "extraction: --process). Sources: spotify (genre playlists, each track found on "
        "YouTube; the default when SPOTIPY_CLIENT_ID/SECRET are set), youtube (yt-dlp's "
        "YouTube search or a playlist per genre; the default otherwise), csv FILE "
        "(artist,title,genre rows, each found on YouTube). Idempotent: --per-genre is a quota "
        "per genre and nothing is added twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            nargs="+",
            metavar="SOURCE",
            help="spotify | youtube | csv FILE (default: spotify when SPOTIPY_CLIENT_ID and "
            "SPOTIPY_CLIENT_SECRET are set, else youtube).",
        )
        parser.add_argument(
            "--playlists",
            metavar="FILE",
            help="With --source youtube: a CSV of genre,url rows; those genres list their "
            "playlist instead of the search.",
        )
        parser.add_argument(
            "--query",
            default=ingest.YOUTUBE_QUERY,
            help="With --source youtube: the search per genre ({genre} is replaced; default "
            f"{ingest.YOUTUBE_QUERY!r}).",
        )
        parser.add_argument(
            "--genres",
            help="Comma-separated genre names (matched by slug: 'hip hop' and 'Hip-Hop' are "
            "'Hip Hop'); default: the 10 product genres (settings.GENRES).",
        )
        parser.add_argument(
            "--per-genre",
            type=int,
            default=50,
            help="Tracks each genre should have in the catalog (default 50).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be added; write nothing and queue nothing.",
        )
        parser.add_argument(
            "--report",
            action="store_true",
            help="Only report the catalog: videos per status and failures by reason.",
        )
        add_process_option(parser)

    def handle(self, *args, **options) -> None:
        if options["report"]:
            self._write_catalog_report()
            return
        source, csv_path = self._source(options)
        per_genre = options["per_genre"]
        if not 1 <= per_genre <= MAX_PER_GENRE:
            raise CommandError(
                f"--per-genre must be between 1 and {MAX_PER_GENRE}, not {per_genre}."
            )
        if source == "csv" and options["genres"] is not None:
            raise CommandError("--genres does not go with --source csv: each row names its genre.")
        if source != "youtube" and options["playlists"]:
            raise CommandError("--playlists goes with --source youtube only.")
        if "{genre}" not in options["query"]:
            raise CommandError("--query must contain {genre}, e.g. '{genre} official music video'.")
        genres: list[str] = []
        if source != "csv":
            names = options["genres"].split(",") if options["genres"] is not None else None
            try:
                genres = ingest.resolve_genre_names(names)
            except UnknownGenre as exc:
                raise CommandError(str(exc)) from None
        if not 1 <= options["workers"] <= 16:
            raise CommandError("--workers must be between 1 and 16")

        spotify = None
        playlists: dict[str, str] = {}
        csv_rows = None
        if source == "spotify":
            try:
                spotify = ingest.spotify_client_from_settings()
            except SpotifyCredentialsMissing as exc:
                raise CommandError(
                    f"{exc} Without Spotify use --source youtube or --source csv FILE."
                ) from None
        elif source == "youtube" and options["playlists"]:
            try:
                playlists = ingest.read_playlist_csv(options["playlists"])
            except ingest.TrackCsvError as exc:
                raise CommandError(str(exc)) from None
        elif source == "csv":
            try:
                csv_rows = ingest.read_track_csv(csv_path)
            except ingest.TrackCsvError as exc:
                raise CommandError(str(exc)) from None

        place = choose_place(options["process"])
        created: list[int] = []

        def on_created(video) -> None:
            created.append(video.pk)
            if (start := start_callback(place)) is not None:
                start(video)

        show_progress = options["verbosity"] > 0
        bars: list[tqdm] = []

        def on_genre_start(name: str, had: int) -> None:
            for bar in bars:
                bar.close()
            bars[:] = [
                tqdm(
                    total=per_genre,
                    initial=min(had, per_genre),
                    desc=f"{name:<12}",
                    unit="track",
                    disable=not show_progress,
                )
            ]

        def on_track(result: ingest.GenreResult) -> None:
            bar = bars[0]
            bar.n = min(result.had + result.added, per_genre)
            bar.set_postfix(found=result.found, failed=sum(result.failed.values()), refresh=True)

        youtube = ingest.ingest_youtube_client()
        dry_run = options["dry_run"]
        try:
            if spotify is not None:
                results = ingest.ingest(
                    genres,
                    per_genre,
                    spotify=spotify,
                    youtube=youtube,
                    dry_run=dry_run,
                    on_genre_start=on_genre_start,
                    on_track=on_track,
                    on_created=on_created,
                )
            elif csv_rows is not None:
                for warning in csv_rows.warnings:
                    self.stdout.write(f"{csv_path}: {warning}")
                bars[:] = [
                    tqdm(
                        total=len(csv_rows.rows), desc="csv", unit="row", disable=not show_progress
                    )
                ]

                def on_row(result: ingest.GenreResult) -> None:
                    bars[0].update(1)

                results = ingest.ingest_csv(
                    csv_rows.rows,
                    youtube=youtube,
                    dry_run=dry_run,
                    on_track=on_row,
                    on_created=on_created,
                )
            else:
                results = ingest.ingest_youtube(
                    genres,
                    per_genre,
                    youtube=youtube,
                    playlists=playlists,
                    query_template=options["query"],
                    dry_run=dry_run,
                    on_genre_start=on_genre_start,
                    on_track=on_track,
                    on_created=on_created,
                )
        except SpotifyAuthError as exc:
            raise CommandError(str(exc)) from None
        finally:
            for bar in bars:
                bar.close()

        if dry_run:
            self._write_plan(results)
        self._write_summary(results, dry_run=dry_run, verbose=options["verbosity"] > 1)
        bad_rows = csv_rows.errors if csv_rows is not None else []
        if bad_rows:
            self.stdout.write(f"\nBad rows in {csv_path} ({len(bad_rows)}), not added:")
            for error in bad_rows:
                self.stdout.write(f"  {error}")
        self.stdout.write("\n" + _summary_line(source, results, bad_rows, dry_run=dry_run))
        if dry_run:
            return
        for line in hand_over(place, created, workers=options["workers"], quiet=not show_progress):
            self.stdout.write(line)
        self._write_catalog_report()

    def _source(self, options) -> tuple[str, str | None]:
        values = options["source"] or [default_source()]
        source = values[0].lower()
        if source not in SOURCES:
            raise CommandError(f"Unknown --source {values[0]!r}: use spotify, youtube or csv FILE.")
        if source == "csv":
            if len(values) != 2:
                raise CommandError("--source csv needs the file: --source csv FILE.csv")
            return source, values[1]
        if len(values) != 1:
            raise CommandError(f"--source {source} takes no file (only csv does).")
        return source, None

    # --- output ----------------------------------------------------------------------------

    def _write_plan(self, results: list[ingest.GenreResult]) -> None:
        planned = [p for r in results for p in r.planned]
        self.stdout.write(f"Would add {len(planned)} video(s):")
        for p in planned:
            self.stdout.write(f"  [{p.genre}] {p.artist} - {p.title}  <{p.url}>")

    def _write_summary(
        self, results: list[ingest.GenreResult], *, dry_run: bool, verbose: bool
    ) -> None:
        added_label = "would add" if dry_run else "added"
        rows = [["genre", "had", "found", added_label, "skipped", "failed", "failed by reason"]]
        totals: Counter[str] = Counter()
        for r in results:
            failed = sum(r.failed.values())
            reasons = ", ".join(f"{reason} {n}" for reason, n in r.failed.most_common())
            rows.append([r.genre, r.had, r.found, r.added, r.skipped, failed, reasons or "-"])
            totals.update({"had": r.had, "found": r.found, "added": r.added, "skipped": r.skipped})
            totals.update({f"failed:{k}": v for k, v in r.failed.items()})
        failed_total = sum(v for k, v in totals.items() if k.startswith("failed:"))
        rows.append(
            [
                "total",
                totals["had"],
                totals["found"],
                totals["added"],
                totals["skipped"],
                failed_total,
                "",
            ]
        )
        self.stdout.write("")
        self.stdout.write(_table(rows))
        messages = [m for r in results for m in r.messages]
        if messages:
            shown = messages if verbose else messages[:20]
            self.stdout.write(f"\nProblems ({len(messages)}):")
            for message in shown:
                self.stdout.write(f"  {message}")
            if len(shown) < len(messages):
                self.stdout.write(f"  ... and {len(messages) - len(shown)} more (use -v 2)")

    def _write_catalog_report(self) -> None:
        counts = selectors.catalog_status_counts()
        self.stdout.write("\nCatalog videos by status:")
        self.stdout.write(_table([["status", "videos"], *[[s, n] for s, n in counts.items()]]))
        failures = selectors.catalog_failures_by_reason()
        if failures:
            self.stdout.write("\nFailed videos by reason:")
            rows = [[reason, n] for reason, n in failures.items()]
            self.stdout.write(_table([["reason", "videos"], *rows]))


def _summary_line(
    source: str, results: list[ingest.GenreResult], bad_rows: list[str], *, dry_run: bool
) -> str:
    failed: Counter[str] = Counter()
    for r in results:
        failed.update(r.failed)
    reasons = ", ".join(f"{reason} {n}" for reason, n in failed.most_common())
    text = (
        f"ingest --source {source}: {len(results)} genre(s), "
        f"{sum(r.found for r in results)} looked at, "
        f"{sum(r.added for r in results)} {'would be added' if dry_run else 'added'}, "
        f"{sum(r.skipped for r in results)} skipped (already there), "
        f"{sum(failed.values())} failed" + (f" ({reasons})" if reasons else "")
    )
    if source == "csv":
        text += f", {len(bad_rows)} bad row(s)"
    return text + ("; dry run, nothing written" if dry_run else "")


def _table(rows: list[list[object]]) -> str:
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(
                cell.ljust(width) if i == 0 or not cell.isdigit() else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
