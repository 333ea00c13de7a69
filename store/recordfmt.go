package store

import "log/slog"

// GoString is String: fmt's %#v would print every field, the DPoP key's
// bytes and the tokens with them.
func (r *Record) GoString() string { return r.String() }

// LogValue is String, for log/slog: a handler would otherwise print or
// marshal every field (the JSON handler as the file store writes them).
func (r *Record) LogValue() slog.Value { return slog.StringValue(r.String()) }

// GoString is String: fmt's %#v would print the tokens.
func (t *Token) GoString() string { return t.String() }

// LogValue is String, for log/slog.
func (t *Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// GoString is String: fmt's %#v would print the client's secrets.
func (c *Client) GoString() string { return c.String() }

// LogValue is String, for log/slog.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }
