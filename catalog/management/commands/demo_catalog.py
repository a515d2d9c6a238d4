from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.demo import DemoGenerationError
from catalog.demo_catalog import create_demo_catalog
from catalog.genres import UnknownGenre
from pipeline.commandline import add_process_option, choose_place, hand_over, start_callback


class Command(BaseCommand):
    help = (
        "Generate procedural demo music videos (30-60 s, H.264+AAC) for the genres and hand "
        "them to the pipeline (--process). Deterministic for a seed; re-running adds nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--per-genre", type=int, default=4, help="clips per genre (1-50)")
        parser.add_argument("--seed", type=int, default=0, help="random seed (>= 0)")
        parser.add_argument("--genres", default="", help="comma-separated; default: all 10")
        parser.add_argument("--duration", type=float, default=None, help="seconds per clip")
        add_process_option(parser)

    def handle(self, *args, per_genre: int, seed: int, genres: str, duration, **options) -> None:
        if not 1 <= per_genre <= 50:
            raise CommandError("--per-genre must be between 1 and 50")
        if seed < 0:
            raise CommandError("--seed must be >= 0")
        if duration is not None and not 5 <= duration <= 600:
            raise CommandError("--duration must be between 5 and 600 seconds")
        if not 1 <= options["workers"] <= 16:
            raise CommandError("--workers must be between 1 and 16")
        place = choose_place(options["process"])
        names = [name.strip() for name in genres.split(",") if name.strip()] or None
        bar = tqdm(total=per_genre * (len(names) if names else 10), unit="clip", desc="demo")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            result = create_demo_catalog(
                per_genre,
                seed,
                genres=names,
                duration=duration,
                progress=progress,
                on_created=start_callback(place),
            )
        except UnknownGenre as exc:
            raise CommandError(str(exc)) from None
        except DemoGenerationError as exc:
            raise CommandError(f"ffmpeg failed: {exc}") from None
        finally:
            bar.close()
        self.stdout.write(
            f"demo catalog: {len(result.created)} created, {result.existing} already present"
        )
        ids = [video.pk for video in result.created]
        for line in hand_over(
            place, ids, workers=options["workers"], quiet=options["verbosity"] == 0
        ):
            self.stdout.write(line)
