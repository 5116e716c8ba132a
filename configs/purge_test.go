package configs

import (
	"strings"
	"testing"
	"time"
)

// purgeBase is minimal (10 lines) plus a purge section from line 11.
const purgeBase = minimal + `purge:
  name: purge-1
  listen: 127.0.0.1:8088
  admin: 127.0.0.1:9104
  tokens_file: purge-tokens
  bus:
    listen: 127.0.0.1:4222
`

func TestPurgeValid(t *testing.T) {
	topo, err := Parse("p.yaml", []byte(purgeBase))
	if err != nil {
		t.Fatal(err)
	}
	p := topo.Purge
	if p.Bus.Mode != "embedded" || p.Bus.Dir != "nats" || p.Bus.Replicas != 1 || p.MaxAge.D() != 24*time.Hour ||
		p.Duplicates.D() != 2*time.Minute || p.MaxEntries != 100 || p.MaxBody != 64*KiB || p.Rate != 10 || p.Burst != 20 {
		t.Errorf("purge defaults = %+v", p)
	}
	ext := strings.Replace(purgeBase, "    listen: 127.0.0.1:4222\n",
		"    mode: external\n    urls: [nats://n1.example:4222, tls://n2.example:4222]\n    creds_file: /etc/tern/nats.creds\n    replicas: 3\n", 1)
	if _, err := Parse("p.yaml", []byte(ext)); err != nil {
		t.Fatal(err)
	}
}

func TestPurgeErrors(t *testing.T) {
	tests := []struct {
		name, replace, with string
		want                []want
	}{
		{"no name", "  name: purge-1\n", "", []want{{11, "purge.name", missing}}},
		{"name clash", "name: purge-1", "name: e", []want{{12, "purge.name", `"e"`}}},
		{"both token sources", "  tokens_file: purge-tokens\n", "  tokens_file: f\n  token_env: T\n",
			[]want{{15, "purge.tokens_file", "not both"}}},
		{"external without urls", "    listen: 127.0.0.1:4222\n", "    mode: external\n",
			[]want{{16, "purge.bus.urls", "needs the NATS servers' URLs"}}},
		{"bad mode", "    listen: 127.0.0.1:4222\n", "    mode: cluster\n",
			[]want{{17, "purge.bus.mode", `"cluster" is not one of`}}},
		{"bad url", "    listen: 127.0.0.1:4222\n", "    mode: external\n    urls: [http://x:1]\n",
			[]want{{18, "purge.bus.urls[0]", "not a nats:// or tls:// URL"}}},
		{"duplicates beyond max_age", "  tokens_file: purge-tokens\n", "  tokens_file: f\n  max_age: 1m\n  duplicates: 5m\n",
			[]want{{17, "purge.duplicates", "longer than max_age"}}},
		{"replicas", "    listen: 127.0.0.1:4222\n", "    replicas: 2\n",
			[]want{{17, "purge.bus.replicas", "not 1, 3 or 5"}}},
		{"listen clash", "admin: 127.0.0.1:9104", "admin: 127.0.0.1:8080",
			[]want{{14, "purge.admin", "already used"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(purgeBase, tt.replace, tt.with, 1)
			if doc == purgeBase {
				t.Fatalf("%q not found", tt.replace)
			}
			checkParseErrors(t, "p.yaml", doc, tt.want)
		})
	}
}
