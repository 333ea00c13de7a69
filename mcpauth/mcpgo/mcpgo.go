// Package mcpgo plugs an authloop Session into github.com/mark3labs/mcp-go's
// client transports.
//
//	c, err := client.NewStreamableHttpClient("https://mcp.example.com/mcp",
//		mcpgo.StreamableHTTPOption(sess))
//
// The session owns the tokens: the transport's requests go through
// mcpauth.Transport, which sends the session's token, and answers a 401 or a
// 403 insufficient_scope with Session.Authorize (discovery, registration,
// login, refresh or step-up) and one retry. mcp-go's own OAuth support
// (WithHTTPOAuth and its TokenStore) is left off: it would refresh the
// stored refresh token by itself, without the RFC 8707 resource and without
// the session's cross-process lock (a second refresher of a rotating
// refresh token gets the whole grant revoked by servers that detect reuse),
// and it hands a 401 back to the caller as an error to handle rather than
// authorizing.
//
// Do not combine these options with WithHTTPOAuth or WithOAuth, nor with
// options that replace the HTTP client (WithHTTPBasicClient, WithHTTPClient)
// after them. WithHTTPTimeout, given after StreamableHTTPOption, sets the
// timeout of the client it installs.
package mcpgo

import (
	"github.com/authloop/authloop"
	"github.com/authloop/authloop/mcpauth"
	"github.com/mark3labs/mcp-go/client/transport"
)

// StreamableHTTPOption returns the option of mcp-go's streamable HTTP
// transport (client.NewStreamableHttpClient, transport.NewStreamableHTTP)
// that sends its requests through mcpauth.HTTPClient(s, nil).
func StreamableHTTPOption(s *authloop.Session) transport.StreamableHTTPCOption {
	return transport.WithHTTPBasicClient(mcpauth.HTTPClient(s, nil))
}

// SSEOption returns the option of mcp-go's SSE transport
// (client.NewSSEMCPClient, transport.NewSSE) that sends its requests, the
// event stream's included, through mcpauth.HTTPClient(s, nil).
func SSEOption(s *authloop.Session) transport.ClientOption {
	return transport.WithHTTPClient(mcpauth.HTTPClient(s, nil))
}
