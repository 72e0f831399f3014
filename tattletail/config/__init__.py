"""``tattletail.toml`` -> a checked, frozen ``Config`` (``loader``), with secret references (``secrets``)."""
