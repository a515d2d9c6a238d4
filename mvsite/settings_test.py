"""Test settings: the same real PostgreSQL and Redis, isolated by database name and Redis db."""

import os
import tempfile

os.environ.setdefault("MVSIM_REDIS_DB", os.environ.get("MVSIM_TEST_REDIS_DB", "15"))

from mvsite import env as _env  # noqa: E402
from mvsite.settings import *  # noqa: E402,F403

REDIS = _env.redis_target()
REDIS_URL = REDIS.url
for _queue in RQ_QUEUES.values():  # noqa: F405
    _queue["URL"] = REDIS_URL
# The cache lives in the test Redis database too (emptied by the redis_conn fixture).
CACHES = {"default": {**CACHES["default"], "LOCATION": REDIS_URL, "KEY_PREFIX": "mvsim-test"}}  # noqa: F405
# No search rate limit unless a test sets one (tests/search_web/test_throttling.py): the suite
# submits far more than 30 searches a minute from one address.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"search": None}}  # noqa: F405

# A worker process started by a test shares the test's media folder.
MEDIA_ROOT = os.environ.get("MVSIM_TEST_MEDIA_ROOT") or tempfile.mkdtemp(prefix="mvsim-test-media-")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
# In-process test workers need no preloaded model; worker-process tests turn it on.
PIPELINE_PRELOAD_MODELS = _env.env_bool("MVSIM_PIPELINE_PRELOAD_MODELS", False)
# Test transactions never commit, so the result cache's epoch (moved on commit) would never
# move inside a test: answers stay uncached unless a test turns the cache on
# (tests/search_web/test_result_cache.py).
SEARCH_RESULT_CACHE_SECONDS = 0
