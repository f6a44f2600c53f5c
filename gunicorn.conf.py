"""gunicorn settings for production (``gunicorn -c gunicorn.conf.py wsgi:app``)."""

import os

bind = os.environ.get("GRIDAPP_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GRIDAPP_WEB_WORKERS", "4"))
worker_class = "gthread"
threads = int(os.environ.get("GRIDAPP_THREADS", "4"))
accesslog = "-"


def post_fork(server, worker):
    # A forked worker must not share the master's database connection state.
    from gridapp.db import db

    db.dispose()
