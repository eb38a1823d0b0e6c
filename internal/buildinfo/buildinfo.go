// Package buildinfo holds the version stamped in by the build
// (-ldflags "-X github.com/tetherhq/tether/internal/buildinfo.Version=…").
package buildinfo

import (
	"fmt"
	"runtime"
)

// Version is the release version, or "dev".
var Version = "dev"

// String describes the build for -version.
func String(binary string) string {
	return fmt.Sprintf("%s %s (%s, %s/%s)", binary, Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
