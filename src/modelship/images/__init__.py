"""Model-serving container images: the build context, the builders, the labels.

* `model`: fetch an MLflow model and what MLflow knows about where it came from.
* `labels`: OCI and modelship lineage labels.
* `buildcontext`: render the Containerfile and the files it copies.
* `builders`: Docker (through the SDK), Buildah and Podman (through their CLIs),
  and choosing one.

Heavy libraries (mlflow, docker) are imported inside the functions that use them.
"""
