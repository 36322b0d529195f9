"""Locust scenarios: ``mobile`` (an app user), ``internal`` (another service); ``settings`` for both.

The package itself imports nothing from Locust, so its settings can be used (and tested) without gevent.
"""
