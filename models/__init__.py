"""The model catalogue (catalog.toml), shipped with nlsh as ``nlsh.modelcatalog``."""
