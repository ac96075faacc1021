"""WSGI entry point: gunicorn wsgi:app"""
from pcnreg import create_app

app = create_app()
