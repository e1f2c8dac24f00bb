"""Hotspot alerts: a sudden cluster of orders about one street and category.

- ``watch``: the worker (role ``assist``) that counts sliding windows and raises alerts
- ``queries``: the supervisors' list of alerts and each alert's orders
"""
