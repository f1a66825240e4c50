"""nlsh: a shell that takes commands or plain language."""

__version__ = "0.1.0"
