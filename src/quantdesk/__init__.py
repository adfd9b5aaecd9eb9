"""quantdesk: a self-hosted investment desk."""

__version__ = "0.1.0"
