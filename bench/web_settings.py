"""The project's settings for bench/web.py, with one more URL on company hosts: a bare view,
the baseline every page is measured against (bench/web_urls.py)."""

from kpiplatform.settings import *  # noqa: F403

ROOT_URLCONF = "bench.web_urls"
