package store_test

import "go.uber.org/goleak"

func keyringLeakOptions() []goleak.Option { return nil }
