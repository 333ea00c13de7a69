module github.com/authloop/authloop

go 1.26.0

require (
	github.com/cli/browser v1.3.0
	go.uber.org/goleak v1.3.0
	golang.org/x/oauth2 v0.38.0
)

require golang.org/x/sys v0.13.0 // indirect
