package admin

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tern-cdn/tern/configs"
)

// LoadToken returns the admin token a configures: the value of the
// variable a.TokenEnv names, or the contents of a.TokenFile. A relative
// token file is in dataDir, created there with a new random token when
// missing. "" means no token is configured.
func LoadToken(a configs.Admin, dataDir string) (string, error) {
	switch {
	case a.TokenEnv != "":
		tok := strings.TrimSpace(os.Getenv(a.TokenEnv))
		if tok == "" {
			return "", fmt.Errorf("admin.token_env: %s is empty or not set", a.TokenEnv)
		}
		return tok, nil
	case a.TokenFile == "":
		return "", nil
	case filepath.IsAbs(a.TokenFile):
		return readToken(a.TokenFile)
	case dataDir == "":
		return "", fmt.Errorf("admin.token_file: %s is relative and there is no data directory", a.TokenFile)
	}
	path := filepath.Join(dataDir, a.TokenFile)
	if err := createToken(path); err != nil {
		return "", fmt.Errorf("admin.token_file: %w", err)
	}
	return readToken(path)
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin.token_file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("admin.token_file: %s is empty", path)
	}
	return tok, nil
}

// createToken writes a new random token to path, mode 0600, unless the
// file exists. The token is written whole to a temporary file and linked
// into place, so that nodes starting at once from one data directory all
// read the same whole token.
func createToken(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".admin-token-*") // mode 0600
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(randomBytes(32)) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return b
}
