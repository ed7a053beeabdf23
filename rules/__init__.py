"""YAML routing rules: loading, validation, matching, explaining a decision."""
