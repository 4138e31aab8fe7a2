# govkiosk: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin
APT_PACKAGES := sane-utils libsane1 chromium chromium-driver zbar-tools fonts-noto-core
export CGO_ENABLED := 1

.PHONY: demo test deps build vet unit e2e bench-qr clean

## demo: build and run the kiosk with simulated devices and the embedded portal
demo: deps build
	$(BIN)/kiosk --demo --data demo-data

## test: install what the tests need, then vet and run every test
test: deps vet
	$(GO) test -count=1 -timeout 20m ./...

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@[ -d e2e/peers/node_modules ] || npm ci --prefix e2e/peers --no-audit --no-fund
	$(GO) mod download

build:
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /e2e)

e2e: deps
	$(GO) test -count=1 -v ./e2e/

## bench-qr: our QR pipeline beside ZXingReader and zbarimg on the shared photo corpus
bench-qr:
	$(GO) run ./bench/qr

clean:
	rm -rf $(BIN) demo-data
