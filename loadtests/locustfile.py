"""Locust entry point: the scenarios only (``locust -f loadtests/locustfile.py`` from the repository root).

``python -m loadtests.run`` (``make loadtest``) runs it headless and checks the error rate.
"""

from loadtests.scenarios.internal import InternalServiceUser
from loadtests.scenarios.mobile import MobileUser

__all__ = ["InternalServiceUser", "MobileUser"]
