"""The console's blueprint, shared by its page modules (``admin``, ``dashboard``, ...)."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")
