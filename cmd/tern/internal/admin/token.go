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
	}
	return SecretFile("admin.token_file", a.TokenFile, dataDir)
}

// SecretFile reads the secret (a token) in file, named by the topology's
// field: an absolute path as it is; a relative one in dataDir, where a new
// random secret is created (mode 0600) if there is none yet, so every node
// started on one data directory shares it.
func SecretFile(field, file, dataDir string) (string, error) {
	path := file
	if !filepath.IsAbs(file) {
		if dataDir == "" {
			return "", fmt.Errorf("%s: %s is relative and there is no data directory", field, file)
		}
		path = filepath.Join(dataDir, file)
		if err := createToken(path); err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s: %s is empty", field, path)
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
	tmp, err := os.CreateTemp(dir, ".secret-*") // mode 0600
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
