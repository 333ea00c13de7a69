package main

import "runtime/debug"

// versionString names the module version this binary was built from, or
// "(devel)" for a build from a work tree.
func versionString() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "authloop " + v
}
