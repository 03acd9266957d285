# sluice: the two set-up commands are `make demo` and `make test`.
SWIFT ?= swift
# Extra flags for every swift invocation, e.g. SWIFT_FLAGS="--scratch-path .build-ci".
SWIFT_FLAGS ?=

.PHONY: build release test demo bench clean schemas

build:
	$(SWIFT) build $(SWIFT_FLAGS)

release:
	$(SWIFT) build -c release $(SWIFT_FLAGS)

# The destination tests need PostgreSQL and moto's S3 server: scripts/test-services.sh starts throwaway
# ones around the run (and says which tests it had to skip when one is not installed).
test:
	scripts/test-services.sh $(SWIFT) test $(SWIFT_FLAGS)

demo: build
	SWIFT="$(SWIFT)" SWIFT_FLAGS="$(SWIFT_FLAGS)" scripts/demo.sh

bench: release
	SWIFT="$(SWIFT)" SWIFT_FLAGS="$(SWIFT_FLAGS)" scripts/test-services.sh scripts/bench.sh

# Regenerate the schemas compiled into the binary from schemas/*.schema.json.
schemas:
	scripts/bundle-schemas.sh

clean:
	rm -rf .build demo-output
