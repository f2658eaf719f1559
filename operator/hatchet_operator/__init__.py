"""hatchet-operator: reconciles HatchetWorker resources into Deployments of Hatchet workers.

Layers, top to bottom: ``cli`` -> ``runtime`` (process wiring: kopf, leader election, servers) ->
``handlers`` (kopf registrations) -> ``reconcile`` (observe, plan, apply for one resource) ->
``kube`` (the only module that talks HTTP to the apiserver) and the pure modules ``render``,
``status``, ``diff``, ``crdgen`` -> ``api`` (the typed models).
"""

__version__ = "0.1.0"
