"""tierdesk daemon: the command, config, listeners, pipeline driver, sender."""
