#!/usr/bin/env python
"""Django's command-line utility for mvsim."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mvsite.settings")
    from django.core.management import execute_from_command_line

    from mvsite.errors import run_with_clear_service_errors

    run_with_clear_service_errors(execute_from_command_line, sys.argv)


if __name__ == "__main__":
    main()
