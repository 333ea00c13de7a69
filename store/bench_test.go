package store_test

import (
	"testing"

	"github.com/authloop/authloop/store"
)

func benchRecord() *store.Record {
	rec := sampleRecord(helperKey)
	rec.Metadata = []byte(`{"issuer":"https://issuer.example.com","token_endpoint":"https://issuer.example.com/token","scopes_supported":["openid","offline_access"]}`)
	return rec
}

// BenchmarkFileLoad reads and checks one record file.
func BenchmarkFileLoad(b *testing.B) {
	s := newFile(b)
	if _, err := s.Save(bg, benchRecord()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(bg, helperKey); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileSave is a whole durable save: save lock, read of the
// previous generation, temporary file, fsync, rename, fsync of the
// directory.
func BenchmarkFileSave(b *testing.B) {
	s := newFile(b)
	rec := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Save(bg, rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileLockUnlock takes and releases an uncontended lock.
func BenchmarkFileLockUnlock(b *testing.B) {
	s := newFile(b)
	// The lock of a record that exists (as a refresh takes it): the lock
	// file stays. Without the record, each unlock removes it.
	if _, err := s.Save(bg, benchRecord()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := s.Lock(bg, helperKey, "refresh")
		if err != nil {
			b.Fatal(err)
		}
		if err := unlock(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryLoad is the floor: a copy of a record in memory.
func BenchmarkMemoryLoad(b *testing.B) {
	s := store.NewMemory()
	if _, err := s.Save(bg, benchRecord()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(bg, helperKey); err != nil {
			b.Fatal(err)
		}
	}
}
