from django.db import migrations


def create_definitions(apps, schema_editor):
    from features.services import ensure_feature_definitions

    ensure_feature_definitions(apps.get_model("features", "FeatureDefinition"))


class Migration(migrations.Migration):
    dependencies = [("features", "0001_initial")]
    operations = [migrations.RunPython(create_definitions, migrations.RunPython.noop)]
