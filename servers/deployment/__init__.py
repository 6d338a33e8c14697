"""The deployment server: Docker and Kubernetes, safe by default, plan → apply for changes."""
