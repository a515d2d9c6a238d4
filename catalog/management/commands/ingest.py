"""python manage.py ingest [--genres "Blues,Jazz"] [--per-genre 50] [--dry-run] | --report"""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog import ingest, selectors
from catalog.genres import UnknownGenre
from catalog.spotify_client import SpotifyAuthError, SpotifyCredentialsMissing
from pipeline.commandline import add_process_option, choose_place, hand_over, start_callback

MAX_PER_GENRE = 1000


class Command(BaseCommand):
    help = (
        "Add each genre's most-listed Spotify tracks to the catalog: find every track's video "
        "on YouTube and hand it to the pipeline (download, extraction: --process). Idempotent: "
        "--per-genre is a quota per genre and nothing is added twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
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
        per_genre = options["per_genre"]
        if not 1 <= per_genre <= MAX_PER_GENRE:
            raise CommandError(
                f"--per-genre must be between 1 and {MAX_PER_GENRE}, not {per_genre}."
            )
        names = options["genres"].split(",") if options["genres"] is not None else None
        try:
            genres = ingest.resolve_genre_names(names)
        except UnknownGenre as exc:
            raise CommandError(str(exc)) from None
        try:
            spotify = ingest.spotify_client_from_settings()
        except SpotifyCredentialsMissing as exc:
            raise CommandError(str(exc)) from None

        if not 1 <= options["workers"] <= 16:
            raise CommandError("--workers must be between 1 and 16")
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

        try:
            results = ingest.ingest(
                genres,
                per_genre,
                spotify=spotify,
                youtube=ingest.ingest_youtube_client(),
                dry_run=options["dry_run"],
                on_genre_start=on_genre_start,
                on_track=on_track,
                on_created=on_created,
            )
        except SpotifyAuthError as exc:
            raise CommandError(str(exc)) from None
        finally:
            for bar in bars:
                bar.close()

        if options["dry_run"]:
            self._write_plan(results)
        self._write_summary(results, dry_run=options["dry_run"], verbose=options["verbosity"] > 1)
        if options["dry_run"]:
            return
        for line in hand_over(place, created, workers=options["workers"], quiet=not show_progress):
            self.stdout.write(line)
        self._write_catalog_report()

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
