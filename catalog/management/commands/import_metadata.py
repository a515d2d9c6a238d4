"""python manage.py import_metadata FILE.csv"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog import importing
from catalog.importing import ImportInputError


class Command(BaseCommand):
    help = (
        "Attach track metadata from a CSV to catalog videos. Key column: 'file' (the imported "
        "file's name) or 'youtube_id'; optional: title, artist, genre, spotify_id, "
        f"{', '.join(importing.RANGES)}. Values are marked as imported; empty cells change "
        "nothing. Bad rows are reported with their line number and skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_file", type=Path, help="The CSV file (UTF-8, header row).")

    def handle(self, *args, csv_file: Path, **options) -> None:
        try:
            result = importing.import_metadata(csv_file.expanduser())
        except ImportInputError as exc:
            raise CommandError(str(exc)) from None
        if result.ignored_columns:
            self.stderr.write(
                f"Ignored unknown column(s): {', '.join(result.ignored_columns)} "
                f"(known: {', '.join(sorted(importing.KNOWN_COLUMNS))})"
            )
        for line, message in result.errors:
            self.stderr.write(f"Line {line}: {message}; row skipped")
        self.stdout.write(
            f"Updated {len(result.updated)} video(s), skipped {len(result.errors)} bad row(s)"
            + (f", {result.blank_rows} blank" if result.blank_rows else "")
        )
