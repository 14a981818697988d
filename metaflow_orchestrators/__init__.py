"""Developer tools for metaflow-orchestrators that never ship to workers (the engine emulators)."""
