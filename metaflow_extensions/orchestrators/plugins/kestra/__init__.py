"""The Kestra back end: Plan -> Kestra workflow, REST client, CLI group, Deployer."""
