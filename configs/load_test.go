package configs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// minimal is the smallest valid topology; the bad inputs below are edits of
// it, written out in full so that their line numbers can be read off.
const minimal = `sites:
  - name: s
    hosts: [a.test]
    origin: http://127.0.0.1:9000
datacenters:
  - name: d
    edges:
      - name: e
        listen: 127.0.0.1:8080
        admin: 127.0.0.1:9100
`

func TestParseMinimal(t *testing.T) {
	topo, err := Parse("min.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if topo.Path() != "min.yaml" {
		t.Errorf("Path() = %q", topo.Path())
	}
}

// TestYAMLFilesLoad loads every YAML file under configs/ (the example
// topologies), except testdata.
func TestYAMLFilesLoad(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if ext := filepath.Ext(path); d.IsDir() || ext != ".yaml" && ext != ".yml" {
			return nil
		}
		n++
		t.Run(path, func(t *testing.T) {
			topo, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := topo.Validate(); err != nil {
				t.Errorf("Validate after Load: %v", err)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no YAML files found")
	}
}

// TestReadmeExample parses the yaml blocks of README.md.
func TestReadmeExample(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(data, -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no yaml block")
	}
	for i, b := range blocks {
		if _, err := Parse("README.md", b[1]); err != nil {
			t.Errorf("block %d: %v", i, err)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want fs.ErrNotExist", err)
	}
	var list ErrorList
	if errors.As(err, &list) {
		t.Errorf("a read error is an ErrorList: %v", err)
	}
}

func TestLoadReportsPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cdn.yaml")
	bad := strings.Replace(minimal, "8080", "80a", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + `:9: datacenters[0].edges[0].listen: port "80a" is not a number`
	if err == nil || err.Error() != want {
		t.Errorf("Load error = %v, want %s", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.File != path || e.Line != 9 {
		t.Errorf("errors.As(*Error) = %+v", e)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "f.yaml", Line: 3, Field: "a.b", Msg: "bad"}, "f.yaml:3: a.b: bad"},
		{Error{File: "f.yaml", Msg: "bad"}, "f.yaml: bad"},
		{Error{Line: 3, Msg: "bad"}, "line 3: bad"},
		{Error{Field: "a", Msg: "bad"}, "a: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	list := ErrorList{{File: "x", Line: 1, Msg: "a"}, {File: "x", Line: 2, Msg: "b"}}
	if got := list.Error(); got != "x:1: a\nx:2: b" {
		t.Errorf("ErrorList.Error() = %q", got)
	}
}
