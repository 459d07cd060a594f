"""The WSGI application gunicorn serves in bench/web.py (the bench settings)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.web_settings"
application = get_wsgi_application()
