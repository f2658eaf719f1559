# The two commands the README documents, plus helpers. All set-up is in hack/bootstrap.sh.
.PHONY: up test lint bootstrap crds images bench
up:         ## run the example fleet: real-node cluster (pods by the kubelet) where possible, else kwok
	bash hack/up.sh
test:       ## set up everything, lint, type-check, run all tests
	bash hack/test.sh
bootstrap:  ## install/build what the tests and `make up` need (idempotent, cached)
	bash hack/bootstrap.sh
crds:       ## regenerate crds/ and the chart's CRD from the operator's models
	bash hack/sync-chart-crd.sh
images:     ## build the operator and example-worker images without Docker (debootstrap + umoci)
	bash hack/build-images.sh
bench:      ## side-by-side benchmarks (bench/README.md): our SDK vs hatchet-sdk, operator vs direct API, autoscaler vs the KEDA rule
	bash hack/bootstrap.sh
	.venv/bin/python bench/sdk_vs_official.py
	.venv/bin/python bench/operator_scale.py
	.venv/bin/python bench/autoscale.py
lint:
	.venv/bin/ruff check sdk operator tests bench examples hack && .venv/bin/mypy
