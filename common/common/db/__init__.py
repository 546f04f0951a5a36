"""Database backends shared by the services."""
