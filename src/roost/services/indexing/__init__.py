"""The Indexing service: keeps the Search role's index of messages current."""
