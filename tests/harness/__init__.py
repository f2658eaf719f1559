"""Real peers for tests: a Kubernetes control plane with kwok nodes, a Hatchet engine on
PostgreSQL, and helm, each started from cached binaries on 127.0.0.1 free ports."""
