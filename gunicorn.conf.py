"""gunicorn settings for production (``gunicorn -c gunicorn.conf.py wsgi:app``, no ``--preload``
needed: each worker builds the app after the fork). README "Running at scale"; the deployment test
(tests/test_deployment.py) starts exactly this."""

import os

bind = os.environ.get("GRIDAPP_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GRIDAPP_WEB_WORKERS", "4"))
worker_class = "gthread"
threads = int(os.environ.get("GRIDAPP_THREADS", "4"))
accesslog = "-" if os.environ.get("GRIDAPP_ACCESS_LOG", "1") != "0" else None


def post_fork(server, worker):
    from gridapp.db import dispose_after_fork

    dispose_after_fork()
