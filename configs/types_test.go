package configs

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"1500ms", 1500 * time.Millisecond, ""},
		{"5s", 5 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"0", 0, ""},
		{" 2m ", 2 * time.Minute, ""},
		{"30", 0, `invalid duration "30"`},
		{"5 seconds", 0, `invalid duration "5 seconds"`},
		{"", 0, `invalid duration ""`},
		{"-5s", 0, `duration "-5s" is negative`},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseDuration(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.D() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"0", 0, ""},
		{"1048576", 1 << 20, ""},
		{"512KiB", 512 << 10, ""},
		{"256MiB", 256 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"10MB", 10_000_000, ""},
		{"1KB", 1000, ""},
		{"3GB", 3_000_000_000, ""},
		{"1TB", 1_000_000_000_000, ""},
		{"100B", 100, ""},
		{"1.5GiB", 3 << 29, ""},
		{"1.5KB", 1500, ""},
		{"256 MiB", 256 << 20, ""},
		{"256mib", 256 << 20, ""},
		{"0.1KiB", 0, "not a whole number of bytes"},
		{"-1", 0, "negative"},
		{"-1MiB", 0, "negative"},
		{"1e6", 0, "invalid byte size"},
		{"MiB", 0, "invalid byte size"},
		{"", 0, "invalid byte size"},
		{"1.MiB", 0, "invalid byte size"},
		{".5MiB", 0, "invalid byte size"},
		{"1.2.3MiB", 0, "invalid byte size"},
		{"12 M", 0, "invalid byte size"},
		{"0x10", 0, "invalid byte size"},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, "too large"},
		{"8388608TiB", 0, "too large"},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseByteSize(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Int64() != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1536, "1536B"},
		{256 * MiB, "256MiB"},
		{3 << 29, "1536MiB"},
		{10_000_000, "10MB"},
		{1000, "1KB"},
		{2 * TiB, "2TiB"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		back, err := ParseByteSize(tt.in.String())
		if err != nil || back != tt.in {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in.String(), back, err, tt.in)
		}
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in      string
		host    string
		port    uint16
		wantErr string
	}{
		{"127.0.0.1:8080", "127.0.0.1", 8080, ""},
		{"localhost:0", "localhost", 0, ""},
		{":9100", "", 9100, ""},
		{"[::1]:443", "::1", 443, ""},
		{"0.0.0.0:65535", "0.0.0.0", 65535, ""},
		{"127.0.0.1:80a", "", 0, `port "80a" is not a number`},
		{"127.0.0.1:+80", "", 0, `port "+80" is not a number`},
		{"127.0.0.1:", "", 0, `port "" is not a number`},
		{"127.0.0.1:65536", "", 0, "port 65536 is out of range 0-65535"},
		{"127.0.0.1:99999999999999999999", "", 0, "out of range"},
		{"example.com:80", "", 0, `host "example.com" must be an IP address, "localhost" or empty`},
		{"8080", "", 0, `invalid address "8080"`},
		{"::1:80", "", 0, "invalid address"},
		{"", "", 0, "invalid address"},
	}
	for _, tt := range tests {
		got, err := ParseAddr(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAddr(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Host() != tt.host || got.Port() != tt.port || got.String() != tt.in || got.IsZero() {
			t.Errorf("ParseAddr(%q) = (%q, %q, %d), %v; want (%q, %d)", tt.in, got, got.Host(), got.Port(), err, tt.host, tt.port)
		}
	}
	if !(Addr{}).IsZero() {
		t.Error("Addr{}.IsZero() = false")
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"http://127.0.0.1:9000", ""},
		{"https://origin.example/base/", ""},
		{"https://[::1]:8443/", ""},
		{"ftp://origin.example", "scheme must be http or https"},
		{"origin.example", "scheme must be http or https"},
		{"/relative", "scheme must be http or https"},
		{"http://", "has no host"},
		{"http://:80", "has no host"},
		{"http://user:pw@origin.example", "must not carry user information"},
		{"http://origin.example/#top", "must not have a fragment"},
		{"http://origin.example/#", "must not have a fragment"},
		{"http://origin.example:99999", "out of range"},
		{"http://a b", "invalid URL"},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseURL(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.String() != tt.in || got.IsZero() {
			t.Errorf("ParseURL(%q) = %q, %v", tt.in, got, err)
		}
	}
	u, _ := ParseURL("http://a.test/x")
	u.URL().Path = "/changed"
	if u.String() != "http://a.test/x" {
		t.Errorf("URL() does not return a copy: the URL became %q", u)
	}
	if (URL{}).URL() != nil || (URL{}).String() != "" || !(URL{}).IsZero() {
		t.Error("zero URL is not empty")
	}
}

// TestValueTypesYAML checks the unmarshalers (errors with the node's line,
// as a *yaml.TypeError so decoding goes on) and the marshalers (round trip).
func TestValueTypesYAML(t *testing.T) {
	type values struct {
		D Duration `yaml:"d"`
		B ByteSize `yaml:"b"`
		A Addr     `yaml:"a"`
		U URL      `yaml:"u"`
	}
	in := "d: 1h30m\nb: 1.5GiB\na: 127.0.0.1:80\nu: https://o.test/p\n"
	var v values
	if err := yaml.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := "d: 1h30m0s\nb: 1536MiB\na: 127.0.0.1:80\nu: https://o.test/p\n"
	if string(out) != want {
		t.Errorf("Marshal = %q, want %q", out, want)
	}

	bad := "d: 5\nb: lots\na: x:1\nu: ftp://o\n"
	err = yaml.Unmarshal([]byte(bad), &v)
	te, ok := err.(*yaml.TypeError)
	if !ok {
		t.Fatalf("Unmarshal error = %T %v, want *yaml.TypeError", err, err)
	}
	wantErrs := []string{"line 1: invalid duration", "line 2: invalid byte size", "line 3: host", "line 4: URL"}
	if len(te.Errors) != len(wantErrs) {
		t.Fatalf("errors = %q, want %d", te.Errors, len(wantErrs))
	}
	for i, w := range wantErrs {
		if !strings.HasPrefix(te.Errors[i], w) {
			t.Errorf("error %d = %q, want prefix %q", i, te.Errors[i], w)
		}
	}

	err = yaml.Unmarshal([]byte("d: [1s]\n"), &v)
	if err == nil || !strings.Contains(err.Error(), "line 1: want a duration, got a list") {
		t.Errorf("list into Duration: error = %v", err)
	}
}
