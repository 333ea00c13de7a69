# authloop's checks. `make test` is the one command that runs every test;
# .ci/run calls it on a clean machine.

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s

# Every fuzz target as package:FuzzName, each run for FUZZTIME in `make fuzz`.
FUZZ_TARGETS = \
	./callback:FuzzReceiver \
	./discovery:FuzzParseWWWAuthenticate \
	./discovery:FuzzDecodeAuthServerMetadata \
	./discovery:FuzzDecodeResourceMetadata \
	.:FuzzParseTokenResponse

.PHONY: test lint unit fuzz demo bench

test: lint unit fuzz demo

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

# The README's first command, headless so it runs anywhere.
demo:
	@echo "== demo"
	$(GO) run ./cmd/authloop demo --no-browser

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
