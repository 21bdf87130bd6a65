"""The consolidation stack: read and validate config, build the components, export outputs.

Config (see stack_settings/config.py and Pulumi.yaml): consolidation:phase / rolePrefix and
the data_copy keys; the connection is the provider's own postgresql:* keys (password as a
secret). Everything else is in components/ and catalog/. `pulumi preview` / `up` from the
CLI run this file through the Python language host (README's walkthrough, and make demo);
most engine tests run components.stack.program as an Automation API inline program.
"""

from components.stack import program

program()
