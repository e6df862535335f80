"""modelship: CI/CD building blocks for machine-learning projects."""

__version__ = "0.1.0"
