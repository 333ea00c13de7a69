package store_test

import (
	"testing"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/storetest"
)

func TestMemory(t *testing.T) {
	t.Parallel() // see shorttier_test.go
	storetest.TestStore(t, func(t *testing.T) store.Store { return store.NewMemory() })
}
