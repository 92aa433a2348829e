"""Built-in recipes. Each registers through the ``zoo.recipes`` entry-point group (setup.cfg), as a plugin does."""
