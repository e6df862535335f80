"""MLflow through `MlflowClient`: tracking URIs, runs, logged models, the registry, lineage tags.

* `uris` - which tracking URI a stage uses, the secrets it carries, run links.
* `client` - the one place an `MlflowClient` is made, from explicit URIs.
* `models` - model URIs (`runs:/`, `models:/`) parsed, and the run behind them.
* `runs` - the run the train stage opens, fills and closes.
* `registry` - idempotent registration, aliases, promotion and rollback.
* `lineage` - the lineage tag keys and the tags of a training run.

Only `client` imports MLflow, and only when a stage asks for a client; the
rest is cheap to import. Nothing here sets MLflow's process-wide URIs or writes
`os.environ`: every call is given its URIs.
"""
