from django.db import migrations

# Pure data (names, descriptions, groups), no services: the migration builds the rows from the
# historical model.
from features.definitions import missing_definitions


def create_definitions(apps, schema_editor):
    model = apps.get_model("features", "FeatureDefinition")
    model.objects.bulk_create(missing_definitions(model, set()))


class Migration(migrations.Migration):
    dependencies = [("features", "0001_initial")]
    operations = [migrations.RunPython(create_definitions, migrations.RunPython.noop)]
