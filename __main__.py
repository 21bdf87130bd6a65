"""The consolidation stack: read and validate config, build the components, export outputs.

Config (see components/settings.py and Pulumi.yaml): consolidation:phase / rolePrefix and
the data_copy keys; the connection is the provider's own postgresql:* keys (password as a
secret). Everything else is in components/ and catalog/.
"""

import pulumi

from components.stack import build_stack, load_settings

settings = load_settings()
password = pulumi.Config("postgresql").get_secret("password")
for name, value in build_stack(settings, password).items():
    pulumi.export(name, value)
