"""Faithful stand-ins for external systems the suite cannot run for real."""
