from django.db import migrations
from django.utils.text import slugify

# The product's ten genres, frozen here (settings.GENRES may change later).
PRODUCT_GENRES = [
    "Blues", "Country", "Hip Hop", "House", "Jazz", "Latin", "Metal", "Pop", "Reggae", "Rock",
]  # fmt: skip


def create_genres(apps, schema_editor):
    Genre = apps.get_model("catalog", "Genre")
    for name in PRODUCT_GENRES:
        Genre.objects.get_or_create(name=name, defaults={"slug": slugify(name)})


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(create_genres, migrations.RunPython.noop)]
