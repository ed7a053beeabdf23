"""Pure functions over raw mail: parsing, classification, subject tokens, language.

Nothing in this package touches the database or the network.
"""
