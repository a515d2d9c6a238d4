"""Genre.slug is always derived from the name (what genre names are matched on): recompute it
for existing genres with the rule frozen here (underscores read as spaces, then slugify)."""

from django.db import migrations, models
from django.utils.text import slugify


def slug_of(name: str) -> str:
    # A copy of catalog.genres.genre_slug as it is today; migrations never import live code.
    return slugify(str(name).replace("_", " "))


def reslug(apps, schema_editor):
    Genre = apps.get_model("catalog", "Genre")
    for genre in Genre.objects.order_by("pk"):
        slug = slug_of(genre.name)
        # Two old genres with one new slug (e.g. "Hip Hop" and "hip_hop"): the older one
        # gets it, the other keeps its old slug (an editor merges them in the admin).
        if slug != genre.slug and not Genre.objects.filter(slug=slug).exists():
            Genre.objects.filter(pk=genre.pk).update(slug=slug)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_video_status_materializing")]

    operations = [
        migrations.AlterField(
            model_name="genre",
            name="slug",
            field=models.SlugField(
                editable=False,
                help_text="Always genre_slug(name): what genre names are matched on "
                "(catalog.genres).",
                max_length=60,
                unique=True,
            ),
        ),
        migrations.RunPython(reslug, migrations.RunPython.noop),
    ]
