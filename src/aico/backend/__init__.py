"""The backend service container and its plugin contract."""
