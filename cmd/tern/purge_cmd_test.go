package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestPurgeCommand: `tern purge` is the purge client's command: without a
// token it refuses before calling any API.
func TestPurgeCommand(t *testing.T) {
	t.Setenv("TERN_PURGE_TOKEN", "")
	var out, errb bytes.Buffer
	err := run([]string{"purge", "--api", "http://127.0.0.1:1", "--site", "demo", "--url", "/app.js"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "--token-file") {
		t.Errorf("tern purge without a token: %v, want the token-file error", err)
	}
}
