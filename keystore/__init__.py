"""Keyward's core store: clients, keys, the token format and the access decision.

Imports no Flask and no Celery: every other package builds on this one.
"""
