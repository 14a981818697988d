"""Registration only: what Metaflow loads from this extension.

Adding an engine means one folder under plugins/ and one line in each list below.
"""
CLIS_DESC = [
    ("kestra", ".kestra.cli.cli"),
    ("windmill", ".windmill.cli.cli"),
]

DEPLOYER_IMPL_PROVIDERS_DESC = [
    ("kestra", ".kestra.deployer.KestraDeployer"),
    ("windmill", ".windmill.deployer.WindmillDeployer"),
]

STEP_DECORATORS_DESC = [
    ("orchestrators_internal", ".runtime.decorator.OrchestratorsInternalDecorator"),
]
