package agent

import (
	"testing"

	"github.com/tetherhq/tether/internal/tomlfile/filetest"
)

func TestConfigFiles(t *testing.T) {
	filetest.CheckCases(t, "../testdata/config/agent", func(path string) error {
		_, err := LoadConfig(path)
		return err
	})
}
