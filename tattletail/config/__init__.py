"""``tattletail.toml`` -> a checked, frozen ``Config`` (``loader``), its checks (``tables``, ``rule_checks``,
``destination_checks``, ``packs``), with secret references (``secrets``)."""
