package main

// placeholderArguments returns arguments for a tool whose input schema is
// schema (as the go-sdk decodes it: a map[string]any): a placeholder for
// each required property of a simple type, 1 for a number or an integer,
// "test" for a string and true for a boolean. Properties that are not
// required, and required ones of other types, are left out. The suite's
// tools_call scenario checks that its add_numbers tool got numbers for its
// required a and b; the auth scenarios' tool takes none, and gets an
// empty map, as before.
func placeholderArguments(schema any) map[string]any {
	args := map[string]any{}
	s, _ := schema.(map[string]any)
	props, _ := s["properties"].(map[string]any)
	required, _ := s["required"].([]any)
	for _, r := range required {
		name, _ := r.(string)
		prop, _ := props[name].(map[string]any)
		typ, _ := prop["type"].(string)
		switch typ {
		case "number", "integer":
			args[name] = 1
		case "string":
			args[name] = "test"
		case "boolean":
			args[name] = true
		}
	}
	return args
}
