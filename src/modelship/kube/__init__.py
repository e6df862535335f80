"""Kubernetes for the deploy stage: kubeconfig, manifests, server-side apply, rollouts.

Everything here speaks the real Kubernetes API through the official client;
nothing is specific to one cluster or to the test server.
"""
