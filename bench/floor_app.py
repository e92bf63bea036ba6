"""The floor for bench/verify_load.py: a one-route Flask app under the same gunicorn settings."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "ok"
