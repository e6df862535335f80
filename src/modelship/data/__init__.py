"""Versioned data through DVC."""
