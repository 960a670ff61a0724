"""safeshare: clean copies of new photos, without the metadata that gives you away."""

__version__ = "0.1.0"
