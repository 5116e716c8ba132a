package configs

import (
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// nodeError is the error the UnmarshalYAML methods return: a *yaml.TypeError
// whose message starts with "line N: ", so that yaml.v3 keeps decoding and
// reports every bad value, not only the first.
func nodeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}

// scalar returns the text of a scalar node, or an error naming what was
// expected.
func scalar(n *yaml.Node, want string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", nodeError(n, "want %s, got %s", want, kindName(n))
	}
	return n.Value, nil
}

// Duration is a non-negative time.Duration written as a Go duration string:
// "1500ms", "5s", "1h30m". "0" is zero; other numbers need a unit.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration like time.Duration does ("1h30m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// ParseDuration parses a non-negative Go duration string.
func ParseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want a number with a unit, e.g. \"1500ms\", \"5s\", \"1h30m\")", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return Duration(v), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "a duration")
	if err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return nodeError(n, "%v", err)
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ByteSize is a non-negative number of bytes. It is written as a plain
// integer (bytes) or a number with a unit: B; SI units KB, MB, GB, TB
// (powers of 1000); IEC units KiB, MiB, GiB, TiB (powers of 1024). Units
// are case-insensitive and may follow a space. A decimal fraction is
// accepted when the result is a whole number of bytes: "1.5GiB" is
// 1610612736, "0.1KiB" is an error.
type ByteSize int64

// Int64 returns the size in bytes.
func (b ByteSize) Int64() int64 { return int64(b) }

var byteUnits = []struct {
	name string
	mult int64
}{
	// Longest names first, so that "KiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// String formats the size with the largest unit that divides it exactly,
// IEC before SI: "256MiB", "10MB", "1536B".
func (b ByteSize) String() string {
	if b == 0 {
		return "0B"
	}
	for _, group := range [][]int{{3, 2, 1, 0}, {7, 6, 5, 4}} {
		for _, i := range group {
			u := byteUnits[i]
			if int64(b)%u.mult == 0 {
				return fmt.Sprintf("%d%s", int64(b)/u.mult, u.name)
			}
		}
	}
	return fmt.Sprintf("%dB", int64(b))
}

// ParseByteSize parses a size such as "1048576", "512KiB", "10MB" or
// "1.5GiB"; see ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	num := strings.TrimSpace(s)
	if strings.HasPrefix(num, "-") {
		return 0, fmt.Errorf("byte size %q is negative", s)
	}
	mult := int64(1)
	for _, u := range byteUnits {
		if len(num) > len(u.name) && strings.EqualFold(num[len(num)-len(u.name):], u.name) {
			num, mult = strings.TrimRight(num[:len(num)-len(u.name)], " "), u.mult
			break
		}
	}
	if num == "" || strings.Trim(num, "0123456789.") != "" || strings.Count(num, ".") > 1 ||
		num[0] == '.' || num[len(num)-1] == '.' {
		return 0, fmt.Errorf("invalid byte size %q (want bytes or a number with a unit: KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("invalid byte size %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("byte size %q is not a whole number of bytes", s)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("byte size %q is too large", s)
	}
	return ByteSize(r.Num().Int64()), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "a byte size")
	if err != nil {
		return err
	}
	v, err := ParseByteSize(s)
	if err != nil {
		return nodeError(n, "%v", err)
	}
	*b = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// Addr is a listen address, "host:port". The host is an IP address,
// "localhost", or empty (every interface); the port is a number from 0 to
// 65535 (0: any free port). The zero Addr means "not set".
type Addr struct {
	s    string
	host string
	port uint16
}

// ParseAddr parses a listen address; see Addr.
func ParseAddr(s string) (Addr, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Addr{}, fmt.Errorf("invalid address %q (want host:port, e.g. \"127.0.0.1:8080\")", s)
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return Addr{}, fmt.Errorf("host %q must be an IP address, \"localhost\" or empty", host)
		}
	}
	if port == "" || strings.Trim(port, "0123456789") != "" {
		return Addr{}, fmt.Errorf("port %q is not a number", port)
	}
	var p uint64
	for _, c := range port {
		if p = p*10 + uint64(c-'0'); p > 65535 {
			return Addr{}, fmt.Errorf("port %s is out of range 0-65535", port)
		}
	}
	return Addr{s: s, host: host, port: uint16(p)}, nil
}

// String returns the address as written.
func (a Addr) String() string { return a.s }

// Host returns the host part, without brackets; "" means every interface.
func (a Addr) Host() string { return a.host }

// Port returns the port number.
func (a Addr) Port() uint16 { return a.port }

// IsZero reports whether the address is unset.
func (a Addr) IsZero() bool { return a.s == "" }

// UnmarshalYAML implements yaml.Unmarshaler.
func (a *Addr) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "an address (host:port)")
	if err != nil {
		return err
	}
	v, err := ParseAddr(s)
	if err != nil {
		return nodeError(n, "%v", err)
	}
	*a = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (a Addr) MarshalYAML() (any, error) { return a.s, nil }

// URL is an absolute http or https URL with a host and without user
// information or fragment. The zero URL means "not set".
type URL struct {
	u *url.URL
}

// ParseURL parses an absolute http or https URL; see URL.
func ParseURL(s string) (URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return URL{}, fmt.Errorf("invalid URL %q", s)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return URL{}, fmt.Errorf("URL %q: scheme must be http or https", s)
	case u.Host == "" || u.Hostname() == "":
		return URL{}, fmt.Errorf("URL %q has no host", s)
	case u.User != nil:
		return URL{}, fmt.Errorf("URL %q must not carry user information", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return URL{}, fmt.Errorf("URL %q must not have a fragment", s)
	}
	if p := u.Port(); p != "" {
		if _, err := ParseAddr(net.JoinHostPort("", p)); err != nil {
			return URL{}, fmt.Errorf("URL %q: %v", s, err)
		}
	}
	return URL{u: u}, nil
}

// URL returns a copy of the parsed URL, or nil for the zero URL.
func (u URL) URL() *url.URL {
	if u.u == nil {
		return nil
	}
	c := *u.u
	return &c
}

// String returns the URL as a string ("" for the zero URL).
func (u URL) String() string {
	if u.u == nil {
		return ""
	}
	return u.u.String()
}

// IsZero reports whether the URL is unset.
func (u URL) IsZero() bool { return u.u == nil }

// UnmarshalYAML implements yaml.Unmarshaler.
func (u *URL) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "a URL")
	if err != nil {
		return err
	}
	v, err := ParseURL(s)
	if err != nil {
		return nodeError(n, "%v", err)
	}
	*u = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (u URL) MarshalYAML() (any, error) { return u.String(), nil }

// kindName names a node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}
