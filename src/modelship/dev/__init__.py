"""Developer commands: generating the files that derive from stage declarations."""
