package purge_test

import (
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/tern-cdn/tern/purge"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	hosts := []string{"www.cdn.test", "cdn.test"}
	lim := purge.Limits{MaxEntries: 3, MaxEntryLen: 40}
	for _, tc := range []struct {
		name string
		p    purge.Purge
		want error
	}{
		{"path", purge.Purge{Site: "s", Files: []string{"/app.js"}}, nil},
		{"own URL", purge.Purge{Site: "s", Files: []string{"https://WWW.cdn.test/a?b=1"}}, nil},
		{"host prefix", purge.Purge{Site: "s", Prefixes: []string{"cdn.test/img/"}}, nil},
		{"everything", purge.Purge{Site: "s", Everything: true, Soft: true}, nil},
		{"no site", purge.Purge{Files: []string{"/a"}}, purge.ErrInvalid},
		{"no selector", purge.Purge{Site: "s"}, purge.ErrInvalid},
		{"empty file", purge.Purge{Site: "s", Files: []string{""}}, purge.ErrInvalid},
		{"other host", purge.Purge{Site: "s", Files: []string{"http://evil.test/a"}}, purge.ErrInvalid},
		{"scheme-relative", purge.Purge{Site: "s", Files: []string{"//evil.test/a"}}, purge.ErrInvalid},
		{"ftp", purge.Purge{Site: "s", Files: []string{"ftp://www.cdn.test/a"}}, purge.ErrInvalid},
		{"other host's prefix", purge.Purge{Site: "s", Prefixes: []string{"evil.test/"}}, purge.ErrInvalid},
		{"other hosts", purge.Purge{Site: "s", Hosts: []string{"evil.test"}}, purge.ErrInvalid},
		{"tag with space", purge.Purge{Site: "s", Tags: []string{"a b"}}, purge.ErrInvalid},
		{"too long", purge.Purge{Site: "s", Tags: []string{"0123456789012345678901234567890123456789x"}}, purge.ErrInvalid},
		{"too many", purge.Purge{Site: "s", Tags: []string{"a", "b"}, Files: []string{"/a", "/b"}}, purge.ErrTooMany},
	} {
		err := tc.p.Validate(hosts, lim)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestID(t *testing.T) {
	id := purge.PublicID(42, "9f3a")
	seq, nonce, ok := purge.ParseID(id)
	if id != "42-9f3a" || !ok || seq != 42 || nonce != "9f3a" {
		t.Fatalf("%q → %d %q %v", id, seq, nonce, ok)
	}
	for _, bad := range []string{"", "42", "42-", "x-1", "0-ab", "-ab"} {
		if _, _, ok := purge.ParseID(bad); ok {
			t.Errorf("ParseID(%q) ok", bad)
		}
	}
}
