"""Export, erase and import of a list (docs/design.md §11): what crosses the list's own use cases."""
