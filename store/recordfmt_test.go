package store

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// %#v (GoString) and a structured log of a record, its token or its
// client show no secret: not the DPoP key (in any rendering of its bytes),
// not a token, not a client secret. fmt's %#v of a struct pointer prints
// every field, and slog's JSON handler marshals the record as the file
// store does.
func TestRecordFormatsRedacted(t *testing.T) {
	r := secretRecord()
	keyForms := []string{strings.TrimPrefix(fmt.Sprintf("%#v", r.DPoPKey), "[]byte"), fmt.Sprintf("%v", r.DPoPKey), fmt.Sprintf("%x", r.DPoPKey), "c2VjcmV0LWRwb3Ata2V5"}
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("record", "rec", r, "token", r.Token, "client", r.Client)
	text := slog.New(slog.NewTextHandler(&logged, nil))
	text.Info("record", "rec", r, "token", r.Token, "client", r.Client)
	outs := map[string]string{
		"%#v record": fmt.Sprintf("%#v", r),
		"%#v token":  fmt.Sprintf("%#v", r.Token),
		"%#v client": fmt.Sprintf("%#v", r.Client),
		"slog":       logged.String(),
	}
	for what, s := range outs {
		if strings.Contains(s, "secret-") {
			t.Errorf("%s shows a secret: %s", what, s)
		}
		for _, k := range keyForms {
			if strings.Contains(s, k) {
				t.Errorf("%s shows the DPoP key: %s", what, s)
			}
		}
	}
	if s := fmt.Sprintf("%#v", r); !strings.Contains(s, "a DPoP key") {
		t.Errorf("%%#v of the record %q does not describe it as String does", s)
	}
	var nilRec *Record
	var nilTok *Token
	var nilClient *Client
	_ = fmt.Sprintf("%#v %#v %#v", nilRec, nilTok, nilClient)
	_ = slog.AnyValue(nilRec).Resolve().String() + slog.AnyValue(nilTok).Resolve().String() + slog.AnyValue(nilClient).Resolve().String()
}
