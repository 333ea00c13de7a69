package urlrule

import "testing"

// TestSameIssuer pins the one rule for "same issuer": exact, but for at
// most one trailing slash on each side (the table of discovery's
// TestSameIssuer, which tests the public name).
func TestSameIssuer(t *testing.T) {
	const a = "https://as.example.com"
	tests := []struct {
		x, y string
		same bool
	}{
		{a, a, true},
		{a + "/", a, true},
		{a, a + "/", true},
		{a + "/", a + "/", true},
		{a + "//", a, false},
		{a + "//", a + "/", false},
		{a + "//", a + "//", true},
		{a + "/t", a + "/t/", true},
		{a + "/t//", a + "/t", false},
		{a + "/t", a + "/u", false},
		{a + "/t", a, false},
		{a + "/t", a + "/T", false},
		{"HTTPS://as.example.com", a, false},
		{"https://AS.example.com", a, false},
		{a + ":443", a, false},
		{"http://as.example.com", a, false},
		{a + "/%74", a + "/t", false},
		{"", "", false},
		{"", "/", false},
		{a, "", false},
	}
	for _, tt := range tests {
		if got := SameIssuer(tt.x, tt.y); got != tt.same {
			t.Errorf("SameIssuer(%q, %q) = %v, want %v", tt.x, tt.y, got, tt.same)
		}
		if got := SameIssuer(tt.y, tt.x); got != tt.same {
			t.Errorf("SameIssuer(%q, %q) = %v, want %v (the rule is symmetric)", tt.y, tt.x, got, tt.same)
		}
	}
}
