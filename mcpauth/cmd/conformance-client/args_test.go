package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The suite's tools_call scenario fails unless its add_numbers tool is
// called with numbers for a and b (the client used to send {}); the auth
// scenarios' tool, with no properties, still gets {}.
func TestPlaceholderArguments(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		want         map[string]any
	}{
		{"tools_call's add_numbers", `{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]}`, map[string]any{"a": 1, "b": 1}},
		{"the auth scenarios' test-tool", `{"type":"object"}`, map[string]any{}},
		{"simple types", `{"type":"object","properties":{"i":{"type":"integer"},"s":{"type":"string"},"b":{"type":"boolean"}},"required":["i","s","b"]}`, map[string]any{"i": 1, "s": "test", "b": true}},
		{"optional and complex properties left out", `{"type":"object","properties":{"o":{"type":"number"},"x":{"type":"object"},"y":{"$ref":"#/$defs/y"}},"required":["x","y","missing"]}`, map[string]any{}},
		{"not an object", `null`, map[string]any{}},
		{"malformed required", `{"type":"object","properties":{"a":{"type":"number"}},"required":"a"}`, map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var schema any // as the go-sdk decodes a tool's inputSchema
			if err := json.Unmarshal([]byte(tc.schema), &schema); err != nil {
				t.Fatal(err)
			}
			got := placeholderArguments(schema)
			if got == nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("placeholderArguments(%s) = %#v, want %#v", tc.schema, got, tc.want)
			}
		})
	}
}
