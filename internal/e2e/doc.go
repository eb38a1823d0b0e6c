// Package e2e holds tether's whole-system tests: real edges and agents,
// in-process or as built binaries, on 127.0.0.1, with real clients. It has
// no non-test code.
package e2e
