package configs

import (
	"encoding"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// An index maps the nodes of a parsed YAML file to field paths and back.
type index struct {
	// lines holds, for each line, the key and value nodes that start on it,
	// in document order, with their field paths.
	lines map[int][]entry
	// paths maps a field path to the line of its key (a list item: of the
	// item).
	paths map[string]int
	// at maps the position of a node to its field path.
	at map[pos]string
}

type pos struct{ line, col int }

type entry struct {
	path string
	key  bool
	node *yaml.Node
}

func newIndex() *index {
	return &index{lines: map[int][]entry{}, paths: map[string]int{}, at: map[pos]string{}}
}

// add records a node; the first path recorded for a node or a path wins.
func (x *index) add(n *yaml.Node, path string, key bool) {
	p := pos{n.Line, n.Column}
	if _, ok := x.at[p]; ok {
		return
	}
	x.at[p] = path
	x.lines[n.Line] = append(x.lines[n.Line], entry{path, key, n})
	if _, ok := x.paths[path]; !ok {
		x.paths[path] = n.Line
	}
}

// line returns the line of a field path or, when the field is missing, of
// its closest parent that is present.
func (x *index) line(path string) int {
	for {
		if l, ok := x.paths[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// find returns the first entry on line that satisfies ok.
func (x *index) find(line int, ok func(entry) bool) (entry, bool) {
	for _, e := range x.lines[line] {
		if ok(e) {
			return e, true
		}
	}
	return entry{}, false
}

// parentPath removes the last ".name" or "[i]" of a field path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	ipType              = reflect.TypeFor[netip.Addr]()
	linePrefix          = regexp.MustCompile(`^line \d+: `)
)

// A walker goes over a YAML tree beside the Go type it will be decoded
// into. It indexes every node and checks what yaml.v3 would check badly:
//
//   - unknown fields (yaml.v3's KnownFields only exists on its Decoder,
//     which cannot decode a Node tree), reported with their full path;
//   - values of types with their own unmarshaler (Duration, ByteSize, Addr,
//     URL) and of encoding.TextUnmarshaler types (netip.Addr), whose errors
//     yaml.v3 reports without a field, or, for TextUnmarshaler, by giving up
//     on the whole document. A bad value is reported, then replaced by null
//     in the tree, so that decoding goes on and reports the other problems.
type walker struct {
	idx  *index
	errs ErrorList
	seen map[walkKey]bool
}

// walkKey bounds the work on aliases: a node is walked once per type.
type walkKey struct {
	n *yaml.Node
	t reflect.Type
}

func (w *walker) fail(n *yaml.Node, path, msg string) {
	w.errs = append(w.errs, &Error{Line: n.Line, Field: path, Msg: msg})
}

// walk visits n, to be decoded into a value of type t (nil: unknown).
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	w.idx.add(n, path, false)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	k := walkKey{n, t}
	if w.seen[k] {
		return
	}
	w.seen[k] = true
	if n.Kind == yaml.AliasNode {
		if n.Alias != nil {
			w.walk(n.Alias, t, path)
		}
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	if t != nil {
		if msg, custom := checkCustom(n, t); custom {
			if msg != "" {
				w.fail(n, path, msg)
				*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
			}
			return
		}
	}
	switch n.Kind {
	case yaml.MappingNode:
		w.mapping(n, t, path)
	case yaml.SequenceNode:
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for i, item := range n.Content {
			w.walk(item, et, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string) {
	var fields map[string]reflect.Type
	if t != nil && t.Kind() == reflect.Struct {
		fields = yamlFields(t)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if fields != nil && key.ShortTag() == "!!merge" {
			// "<<: *anchor" or "<<: [*a, *b]" merges mappings into this one.
			if val.Kind == yaml.SequenceNode {
				for _, m := range val.Content {
					w.walk(m, t, path)
				}
			} else {
				w.walk(val, t, path)
			}
			continue
		}
		child := joinPath(path, key.Value)
		w.idx.add(key, child, true)
		var ct reflect.Type
		switch {
		case fields != nil:
			ft, ok := fields[key.Value]
			if !ok {
				w.fail(key, child, "unknown field (want one of: "+fieldNames(fields)+")")
			}
			ct = ft
		case t != nil && t.Kind() == reflect.Map:
			ct = t.Elem()
		}
		w.walk(val, ct, child)
	}
}

// checkCustom reports whether values of type t have their own unmarshaler
// and, if so, what is wrong with n ("" for nothing).
func checkCustom(n *yaml.Node, t reflect.Type) (msg string, custom bool) {
	pt := reflect.PointerTo(t)
	switch {
	case pt.Implements(unmarshalerType):
		err := reflect.New(t).Interface().(yaml.Unmarshaler).UnmarshalYAML(n)
		if te, ok := err.(*yaml.TypeError); ok {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				msgs[i] = linePrefix.ReplaceAllString(m, "")
			}
			return strings.Join(msgs, "; "), true
		}
		if err != nil {
			return err.Error(), true
		}
		return "", true
	case pt.Implements(textUnmarshalerType):
		want := "a " + t.String()
		if t == ipType {
			want = "an IP address"
		}
		if n.Kind != yaml.ScalarNode {
			return fmt.Sprintf("want %s, got %s", want, kindName(n)), true
		}
		err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value))
		if err == nil {
			return "", true
		}
		if t == ipType {
			// netip says `ParseAddr("x"): reason`; keep the reason.
			msg := fmt.Sprintf("invalid IP address %q", n.Value)
			if _, reason, ok := strings.Cut(err.Error(), "): "); ok {
				msg += ": " + reason
			}
			return msg, true
		}
		return fmt.Sprintf("invalid value %q for %s: %v", n.Value, want, err), true
	}
	return "", false
}

// yamlFields maps the YAML names of t's fields to their types, the way
// yaml.v3 names them.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			for k, v := range yamlFields(f.Type) {
				fields[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

func fieldNames(fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
