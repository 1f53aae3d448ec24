"""Configuration corpus: real-world nginx and Apache TLS trees (see README.md)."""
