package configs

import (
	"bytes"
	"testing"
)

// FuzzParse checks that Parse never panics, that its errors are always an
// ErrorList of well-formed problems, and that what it accepts validates.
// Seeds: the demo, minimal, and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add(demoYAML)
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.yaml"
		topo, err := Parse(name, data)
		if err == nil {
			if topo == nil {
				t.Fatal("Parse returned neither a topology nor an error")
			}
			if err := topo.Validate(); err != nil {
				t.Fatalf("Parse accepted a topology that does not validate: %v", err)
			}
			return
		}
		list, ok := err.(ErrorList)
		if !ok || len(list) == 0 {
			t.Fatalf("Parse error is %T (%v), want a non-empty ErrorList", err, err)
		}
		lines := yamlLines(data)
		for _, e := range list {
			if e == nil || e.File != name || e.Msg == "" || e.Line < 0 || e.Line > lines+1 {
				t.Fatalf("malformed error %#v in a %d-line input", e, lines)
			}
		}
	})
}

// yamlLines counts lines as YAML does: a line ends at \r\n, \r or \n, or
// at NEL, LS or PS.
func yamlLines(data []byte) int {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	n := 1
	for _, sep := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
		n += bytes.Count(data, []byte(sep))
	}
	return n
}
