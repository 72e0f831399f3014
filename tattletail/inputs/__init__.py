"""What comes in: Lambda events (``events``), the log objects they name and their records (``logfile``),
and history to replay (``history``). The Lambda runs ``events`` and ``logfile``; ``history`` is the CLI's."""
