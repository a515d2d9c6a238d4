from tests.pipeline.conftest import media_video  # noqa: F401  (fixture)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "restart: restarts the shared embedded PostgreSQL (deselect with -m 'not restart' while "
        "other test runs use the same server)",
    )
