package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/authloop/authloop/internal/urlrule"
)

// ResourceMetadata is a protected resource's metadata (RFC 9728 §2): the
// fields authloop uses, and the whole document in Raw.
type ResourceMetadata struct {
	// Resource is the resource identifier, the value to send as the RFC 8707
	// resource parameter.
	Resource string `json:"resource"`
	// AuthorizationServers are the issuer identifiers of the authorization
	// servers that issue tokens for the resource. ProtectedResource
	// guarantees at least one.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// ScopesSupported are the scopes the resource uses; when a challenge
	// names no scope, the MCP specification asks for all of these.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported are the ways the resource accepts a bearer
	// token: "header", "body", "query".
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	// ResourceName is a human-readable name of the resource, from outside:
	// quote it before printing.
	ResourceName string `json:"resource_name,omitempty"`
	// ResourceDocumentation is the URL of a page about the resource.
	ResourceDocumentation string `json:"resource_documentation,omitempty"`

	// Raw is the document as received, for fields this type does not name
	// and for storing: DecodeResourceMetadata(Raw) gives this value back.
	Raw json.RawMessage `json:"-"`
}

// DecodeResourceMetadata decodes a protected resource metadata document. It
// checks the shape only: a JSON object with a non-empty resource, and the
// fields it names of the right JSON types. It does not compare the resource
// with anything; ProtectedResource does that.
func DecodeResourceMetadata(data []byte) (*ResourceMetadata, error) {
	if !isJSONObject(data) {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidMetadata)
	}
	var m ResourceMetadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidMetadata, describeJSONError(err))
	}
	if m.Resource == "" {
		return nil, fmt.Errorf("%w: no resource", ErrInvalidMetadata)
	}
	m.Raw = json.RawMessage(bytes.Clone(data))
	return &m, nil
}

// ResourceMetadataURLs returns the well-known URLs ProtectedResource tries
// for resourceURL when no challenge names one, in order: the path-inserted
// URL (RFC 9728 §3.1), when resourceURL has a path, then the root URL
// (an MCP extension of RFC 9728 §3).
func ResourceMetadataURLs(resourceURL string) ([]string, error) {
	ru, err := canonicalURL(resourceURL, true)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range resourceCandidates(ru) {
		out = append(out, c.u.String())
	}
	return out, nil
}

// candidate is a metadata URL and how a document found there must match.
type candidate struct {
	u *url.URL
	// covers accepts a document whose resource is above the resource on
	// the same origin (the root document); otherwise the resource must
	// be the same.
	covers bool
}

func resourceCandidates(ru *url.URL) []candidate {
	var cs []candidate
	p := strings.TrimRight(ru.EscapedPath(), "/")
	if p != "" || ru.RawQuery != "" {
		esc := "/.well-known/oauth-protected-resource" + p
		u := &url.URL{Scheme: ru.Scheme, Host: ru.Host, RawPath: esc, RawQuery: ru.RawQuery}
		u.Path, _ = url.PathUnescape(esc)
		cs = append(cs, candidate{u: u})
	}
	cs = append(cs, candidate{
		u:      &url.URL{Scheme: ru.Scheme, Host: ru.Host, Path: "/.well-known/oauth-protected-resource"},
		covers: true,
	})
	return cs
}

// ProtectedResource finds the metadata of the protected resource (the MCP
// server) at resourceURL, such as https://mcp.example.com/mcp.
//
// When hint is not empty, it is the resource_metadata URL of the server's
// 401 challenge (see Challenge.ResourceMetadata), and only that URL is
// fetched, as RFC 9728 §5 and the MCP specification say: a failure is
// returned, not papered over with a guess. The hint may point to another
// origin than the resource (RFC 9728 lets a server publish its metadata
// anywhere), but it must be https, and it may point to a loopback host only
// when the resource is on one, so that a remote server cannot make the
// client probe its own machine.
//
// Otherwise it tries the well-known URLs of ResourceMetadataURLs in order
// and uses the first that gives a matching document.
//
// The document's resource must name the server the client talks to. Both
// sides are compared in the canonical form of CanonicalResource, ignoring
// one trailing "/" after the path; a resource with a fragment never
// matches. A document from the hint or the path-inserted URL must name
// exactly resourceURL (RFC 9728 §3.3). A document from the root URL must
// name resourceURL or a resource above it on the same origin (for
// https://mcp.example.com/mcp: https://mcp.example.com or
// https://mcp.example.com/mcp), because a root document describes the
// whole origin. A document that does not match is not used
// (ErrResourceMismatch); nor is one that lists no authorization_servers,
// which the MCP specification requires.
//
// When no URL gives a usable document, the error is a *NotFoundError naming
// each URL tried and why it was not used. client nil means
// http.DefaultClient; its Jar is not used, and redirects are followed only
// within the origin of each URL.
func ProtectedResource(ctx context.Context, client *http.Client, resourceURL, hint string) (*ResourceMetadata, error) {
	ru, err := canonicalURL(resourceURL, true)
	if err != nil {
		return nil, err
	}
	if err := checkSecure(ru); err != nil {
		return nil, fmt.Errorf("discovery: resource %s: %w", ru, err)
	}
	var cs []candidate
	if hint != "" {
		hu, err := url.Parse(hint)
		if err != nil || !hu.IsAbs() || hu.Host == "" || hu.Opaque != "" {
			return nil, fmt.Errorf("discovery: the resource_metadata URL %s of %s's challenge is not an absolute URL; the server's WWW-Authenticate header is wrong", quoteShort(hint), ru)
		}
		if hu.User != nil {
			return nil, fmt.Errorf("discovery: the resource_metadata URL %s of %s's challenge contains user information; refusing to fetch it", hu.Redacted(), ru)
		}
		hu.Fragment, hu.RawFragment = "", ""
		if urlrule.MayBeLoopbackHost(hu.Hostname()) && !urlrule.MayBeLoopbackHost(ru.Hostname()) {
			return nil, fmt.Errorf("%w: the resource_metadata URL %s of %s's challenge points to a loopback host while the resource is not on one; refusing to fetch it", ErrInsecureURL, hu.Redacted(), ru)
		}
		cs = []candidate{{u: hu}}
	} else {
		cs = resourceCandidates(ru)
	}
	c := fetchClient(client)
	nf := &NotFoundError{
		What: fmt.Sprintf("protected resource metadata for %s", ru),
		Fix:  "check the server URL (it must be the MCP endpoint the client talks to) and that the server publishes RFC 9728 metadata",
	}
	if hint != "" {
		nf.What += " at the challenge's resource_metadata URL"
	}
	for _, cand := range cs {
		body, fe := fetchJSON(ctx, c, cand.u)
		if fe != nil {
			if ctx.Err() != nil {
				return nil, fe
			}
			nf.Tried = append(nf.Tried, fe)
			continue
		}
		fail := func(problem string, sentinel error) {
			nf.Tried = append(nf.Tried, &FetchError{URL: cand.u.String(), Status: http.StatusOK, Problem: problem, Err: sentinel})
		}
		m, err := DecodeResourceMetadata(body)
		if err != nil {
			fail(strings.TrimPrefix(err.Error(), "discovery: "), ErrInvalidMetadata)
			continue
		}
		match := resourceEqual(m.Resource, ru)
		if cand.covers {
			match = resourceCovers(m.Resource, ru)
		}
		if !match {
			fail(fmt.Sprintf("document is for resource %s, not %s (RFC 9728 §3.3), so it was not used", quoteShort(m.Resource), ru), ErrResourceMismatch)
			continue
		}
		if m.AuthorizationServer() == "" {
			fail("document lists no authorization_servers", ErrInvalidMetadata)
			continue
		}
		return m, nil
	}
	return nil, nf
}

// AuthorizationServer returns the authorization server to sign in at: the
// first non-empty entry of AuthorizationServers, or "" when there is none
// (ProtectedResource never returns such a document).
func (m *ResourceMetadata) AuthorizationServer() string {
	for _, s := range m.AuthorizationServers {
		if s != "" {
			return s
		}
	}
	return ""
}
