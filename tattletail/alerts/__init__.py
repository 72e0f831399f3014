"""A match made readable: ``facts`` (who, when, where, what), the ``alert`` model with its views, and
the ``labels`` of every language."""
