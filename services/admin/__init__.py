"""Tooling over every service: the ``pr-admin`` CLI, topic administration and the README's settings table.

The one package allowed to import the services themselves; no service imports it.
"""
