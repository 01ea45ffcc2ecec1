"""Running student code in a separate, limited process that returns artifacts, never verdicts."""
