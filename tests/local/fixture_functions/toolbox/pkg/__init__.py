"""A package inside the function, for handler strings like ``pkg/nested.fn``."""
