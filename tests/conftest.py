pytest_plugins = ["tests.plugins.components"]
