"""Candidate against champion: metrics, paired bootstrap, gates and the evaluation report."""
