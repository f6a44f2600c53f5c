"""For gunicorn: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

from gridapp import create_app

app = create_app()
