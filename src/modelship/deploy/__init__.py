"""Deploy targets besides Kubernetes (a Docker host, a local process) and their smoke test."""
