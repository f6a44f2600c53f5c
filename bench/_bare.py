"""The ceiling for bench/morning.py: a bare Flask endpoint, served by the same gunicorn settings
(``gunicorn -c gunicorn.conf.py bench._bare:app``)."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/bare")
def bare():
    return jsonify(ok=True)
