# govkiosk: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin
APT_PACKAGES := sane-utils libsane1 chromium chromium-driver zbar-tools fonts-noto-core \
  mosquitto prometheus prometheus-alertmanager postgresql espeak-ng unpaper img2pdf zstd
APT_PACKAGES += cage systemd udev dpkg openssl
STATICCHECK_VERSION := v0.8.2
# staticcheck, pinned, where `go install` puts it (GOBIN, else GOPATH/bin).
STATICCHECK := $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)/staticcheck
export CGO_ENABLED := 1
# Tests that decode on one goroutine: nothing for the race detector to see,
# 15-25 times slower under it. They skip themselves under -race and run here
# without it (drivers/qrreader: skipUnderRace).
NORACE_TESTS := -run '^(TestDecodeCorpus|TestDecodeMemory12MP|TestSetVerdicts|TestG4EveryRunLength|TestScanPDFRendersAsProcessed|TestProcessScan)$$' \
  ./drivers/qrreader ./kiosk/document/pipeline ./kiosk/document ./cmd/kioskctl
# The production build carries no file system paths, symbol table or DWARF
# (bench/release measures what that saves); VERSION, a semantic version
# like 1.2.0, is what the updater compares releases by.
PRODUCTION_FLAGS := -trimpath -ldflags='-s -w$(if $(VERSION), -X main.version=$(VERSION))'

.PHONY: demo test deps tools build production vet unit e2e bench-qr bench-release clean deb

## demo: build and run the kiosk with simulated devices and the embedded portal
demo: deps build
	$(BIN)/kiosk --demo --data demo-data

## test: install what the tests need, then vet and run every test with the race detector
test: deps vet
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -race -count=1 -tags demo ./cmd/kiosk
	$(GO) test -count=1 $(NORACE_TESTS)

deps: tools
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@[ -d e2e/peers/node_modules ] || npm ci --prefix e2e/peers --no-audit --no-fund
	$(GO) mod download

## tools: staticcheck at its pinned version, installed only when missing
tools:
	@"$(STATICCHECK)" -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION:v%=%))' || \
	  { echo "installing staticcheck $(STATICCHECK_VERSION)"; $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); }

## build: every command into bin/, the kiosk with the demo in it (-tags demo)
build:
	$(GO) build -tags demo -o $(BIN)/ ./cmd/...

## production: the kiosk as shipped, without the demo, the reference portal or the emulators
production:
	@bad=$$($(GO) list -deps ./cmd/kiosk | grep -E 'govkiosk/portal|govkiosk/fleet|escposemu|imageremu'); \
	if [ -n "$$bad" ]; then echo "cmd/kiosk links demo-only packages:"; echo "$$bad"; exit 1; fi
	$(GO) build $(PRODUCTION_FLAGS) -o $(BIN)/production/ ./cmd/kiosk

## deb: bin/govkiosk_VERSION_ARCH.deb (the production kiosk and kioskctl; VERSION from a VERSION file, else git describe)
DEB_ARCH ?= $(shell $(GO) env GOARCH)
deb: production
	@set -e; \
	if [ -f VERSION ]; then v=$$(cat VERSION); \
	else v=$$($(GO) run ./packaging/mkdeb --print-version --describe "$$(git describe --tags --always --dirty --match 'v[0-9]*')" --commits "$$(git rev-list --count HEAD)"); fi; \
	echo "govkiosk $$v ($(DEB_ARCH))"; \
	GOARCH=$(DEB_ARCH) $(GO) build -trimpath -ldflags "-s -w -X main.version=$$v" -o $(BIN)/deb/ ./cmd/kiosk ./cmd/kioskctl; \
	$(GO) run ./packaging/mkdeb --version "$$v" --arch $(DEB_ARCH) --kiosk $(BIN)/deb/kiosk --kioskctl $(BIN)/deb/kioskctl --src packaging --out $(BIN)

vet: tools
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags demo ./cmd/kiosk
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags demo ./cmd/kiosk

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)
	$(GO) test -race -count=1 -tags demo ./cmd/kiosk
	$(GO) test -count=1 $(NORACE_TESTS)

e2e: deps
	$(GO) test -race -count=1 -v ./e2e/

## bench-qr: our QR pipeline beside ZXingReader and zbarimg on the shared photo corpus
bench-qr:
	$(GO) run ./bench/qr

## bench-release: the kiosk binary and release bundle sizes, raw, stripped, gzip and zstd
bench-release:
	$(GO) run ./bench/release

clean:
	rm -rf $(BIN) demo-data
