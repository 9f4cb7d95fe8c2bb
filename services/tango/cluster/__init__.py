"""Kubernetes deployment support: chart rendering and validation, cluster status, batch Jobs."""
