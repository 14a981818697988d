"""The Windmill back end: Plan -> Windmill workflow, REST client, CLI group, Deployer."""
