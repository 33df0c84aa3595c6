"""The package version, at ground level: the object cache keys compiled code on it."""
__version__ = "0.1.0"
