package api

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Tokens are the API's bearer tokens, each scoped to sites. Only their
// SHA-256 sums are kept.
type Tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	sum   [sha256.Size]byte
	sites []string // "*" is every site
}

// ParseTokens reads tokens, one a line: the token, or "sha256:" and the hex
// SHA-256 of the token, then white space and the comma-separated names of
// the sites it may purge ("*": all). Blank lines and lines starting with
// '#' are skipped. name is for messages (file:line).
func ParseTokens(name string, r io.Reader) (Tokens, error) {
	var t Tokens
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return Tokens{}, fmt.Errorf("%s:%d: want \"<token> <site>[,<site>...]\"", name, line)
		}
		e := tokenEntry{sites: strings.Split(fields[1], ",")}
		if hexSum, ok := strings.CutPrefix(fields[0], "sha256:"); ok {
			b, err := hex.DecodeString(hexSum)
			if err != nil || len(b) != sha256.Size {
				return Tokens{}, fmt.Errorf("%s:%d: sha256: needs 64 hex digits", name, line)
			}
			copy(e.sum[:], b)
		} else {
			e.sum = sha256.Sum256([]byte(fields[0]))
		}
		if slices.Contains(e.sites, "") {
			return Tokens{}, fmt.Errorf("%s:%d: empty site name", name, line)
		}
		t.entries = append(t.entries, e)
	}
	if err := sc.Err(); err != nil {
		return Tokens{}, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// LoadTokens reads a tokens file (see ParseTokens).
func LoadTokens(path string) (Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return Tokens{}, fmt.Errorf("purge tokens: %w", err)
	}
	defer f.Close()
	return ParseTokens(path, f)
}

// TokensFromEnv reads tokens from an environment variable, lines separated
// by newlines or ';'.
func TokensFromEnv(name string) (Tokens, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return Tokens{}, fmt.Errorf("purge tokens: environment variable %s is not set", name)
	}
	return ParseTokens("$"+name, strings.NewReader(strings.ReplaceAll(v, ";", "\n")))
}

// Add adds a token for sites.
func (t *Tokens) Add(token string, sites ...string) {
	t.entries = append(t.entries, tokenEntry{sum: sha256.Sum256([]byte(token)), sites: sites})
}

// Len is how many tokens there are.
func (t Tokens) Len() int { return len(t.entries) }

// lookup finds a token by comparing its sum with every entry's in constant
// time, so that timing tells nothing of which tokens exist. It returns the
// entry's index, or -1.
func (t Tokens) lookup(token string) int {
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], t.entries[i].sum[:]) == 1 && found < 0 {
			found = i
		}
	}
	return found
}

func (e tokenEntry) allows(site string) bool {
	return slices.Contains(e.sites, "*") || slices.Contains(e.sites, site)
}
