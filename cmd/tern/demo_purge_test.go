package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/purge/api"
)

// TestDemoPurgeToken: the demo writes a purge token readable by its owner
// only, keeps it across runs, gives its hash to the API's tokens file, and
// tells how to use it.
func TestDemoPurgeToken(t *testing.T) {
	top, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, err := demoPurgeToken(top, dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "purge-token") {
		t.Errorf("token path %s", path)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v, want mode 0600", fi, err)
	}
	first, _ := os.ReadFile(path)
	if _, err := demoPurgeToken(top, dir); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(first, again) || len(bytes.TrimSpace(first)) < 32 {
		t.Errorf("token %q then %q, want one token kept", first, again)
	}
	tokens, err := api.LoadTokens(filepath.Join(dir, top.Purge.TokensFile))
	if err != nil || tokens.Len() != 1 {
		t.Errorf("tokens file: %d tokens, %v", tokens.Len(), err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, top.Purge.TokensFile)); bytes.Contains(b, bytes.TrimSpace(first)) {
		t.Errorf("the tokens file holds the token itself, not its hash: %s", b)
	}
	var out bytes.Buffer
	printDemoPurge(&out, path)
	if !strings.Contains(out.String(), "tern purge --api http://127.0.0.1:8088 --token-file "+path+" --site demo --url /app.js --wait") {
		t.Errorf("demo output:\n%s", out.String())
	}
}
