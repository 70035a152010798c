"""Repositories: one small module per topic, each method one transaction."""
