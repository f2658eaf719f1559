"""The HatchetWorker API (typed models; the CRD is generated from them)."""
