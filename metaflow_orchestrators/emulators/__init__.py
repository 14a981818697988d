"""Local, independent implementations of the Kestra and Windmill engines.

They must never import ``metaflow_extensions.orchestrators`` (our compiler and runtime):
they are a second implementation of the ENGINE, so that our compiler is tested against
something it did not write.
"""
