"""Point a benchmark at its own database, Redis db and media folder, then set Django up.

Call before importing anything that reads Django settings (hence no Django import here).
"""

from __future__ import annotations

import os
from pathlib import Path


def setup_django(db_name: str, redis_db: str, media: Path) -> None:
    os.environ.update(
        {
            "MVSIM_DB_NAME": db_name,
            "MVSIM_REDIS_DB": redis_db,
            "MEDIA_ROOT": str(media),
            "DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "mvsite.settings",
            "LOG_LEVEL": "WARNING",
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
    )
    import django  # after the environment: settings are read at setup

    django.setup()
