"""What runs inside an engine task, around ``metaflow step``.

Nothing in this package may import Metaflow at module level except ``decorator``:
the launcher runs before the step process and must stay a few milliseconds.
"""
