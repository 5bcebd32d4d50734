"""gunicorn entry point: ``gunicorn -c config/gunicorn.conf.py wsgi:app``."""

from relay import create_app

app = create_app()
