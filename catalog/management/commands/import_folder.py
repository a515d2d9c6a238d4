"""python manage.py import_folder DIR [--genre-from-subdir] [--genre NAME [--create-genre]]"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog import importing
from catalog.genres import UnknownGenre
from catalog.importing import ImportInputError
from catalog.selectors import genre_by_name
from catalog.services import genre_named
from pipeline.commandline import add_process_option, choose_place, hand_over, start_callback

SHOWN = 20  # file names listed per category; the counts are always complete


class Command(BaseCommand):
    help = (
        "Import the media files of a folder (mp4 mkv webm mov mp3 wav ogg flac, recursively) "
        "into the catalog and hand them to the pipeline (--process). A file already in the catalog "
        "(same bytes) is skipped, so running it again adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, help="The folder to import.")
        parser.add_argument(
            "--genre-from-subdir",
            action="store_true",
            help="The first folder below DIR names the genre (created when missing; names "
            "match by slug: 'hip-hop', 'hip_hop' and 'hiphop' are 'Hip Hop').",
        )
        parser.add_argument(
            "--genre",
            help="Genre of the files (with --genre-from-subdir: of the files directly in DIR). "
            "Must exist unless --create-genre.",
        )
        parser.add_argument(
            "--create-genre", action="store_true", help="Create the --genre genre if missing."
        )
        add_process_option(parser)

    def handle(self, *args, folder: Path, **options) -> None:
        folder = folder.expanduser()
        if not 1 <= options["workers"] <= 16:
            raise CommandError("--workers must be between 1 and 16")
        place = choose_place(options["process"])
        try:
            if not options["genre"]:
                genre = None
            elif options["create_genre"]:
                genre = genre_named(options["genre"])
            else:
                genre = genre_by_name(options["genre"])
        except UnknownGenre as exc:
            raise CommandError(f"{exc} Use --create-genre to create it.") from None

        with tqdm(unit="file", desc="import", disable=options["verbosity"] == 0) as bar:

            def on_file(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                result = importing.import_folder(
                    folder,
                    genre=genre,
                    genre_from_subdir=options["genre_from_subdir"],
                    on_file=on_file,
                    on_created=start_callback(place),
                )
            except ImportInputError as exc:
                raise CommandError(str(exc)) from None

        out = self.stdout
        if result.skipped:
            out.write(f"Skipped (not a supported media file): {len(result.skipped)}")
            for line in _relative(result.skipped, folder):
                out.write(f"  {line}")
        if result.duplicates:
            out.write(f"Already in the catalog (same bytes): {len(result.duplicates)}")
            for path, existing in result.duplicates[:SHOWN]:
                out.write(f"  {path.relative_to(folder)} = video {existing.pk} ({existing})")
            if len(result.duplicates) > SHOWN:
                out.write(f"  ... and {len(result.duplicates) - SHOWN} more")
        for path, reason in result.failed:
            self.stderr.write(f"Failed: {path.relative_to(folder)}: {reason}")
        genres = sorted({v.genre.name for v in result.imported if v.genre is not None})
        out.write(
            f"Imported {len(result.imported)}, duplicate {len(result.duplicates)}, "
            f"skipped {len(result.skipped)}, failed {len(result.failed)}"
            + (f"; genres: {', '.join(genres)}" if genres else "")
        )
        lines = hand_over(
            place,
            [video.pk for video in result.imported],
            workers=options["workers"],
            quiet=options["verbosity"] == 0,
        )
        for line in lines:
            out.write(line)


def _relative(paths: list[Path], root: Path) -> list[str]:
    """Up to SHOWN paths relative to root, then how many more there are."""
    shown = [str(path.relative_to(root)) for path in paths[:SHOWN]]
    if len(paths) > SHOWN:
        shown.append(f"... and {len(paths) - SHOWN} more")
    return shown
