package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, decodes, completes with defaults and validates the topology
// file at path. A file that cannot be read gives the os error, wrapped;
// every other problem gives an ErrorList.
func Load(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configs: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a topology from data, applies the defaults and validates
// it; name is the file name used in messages. Decoding is strict: one YAML
// document, no unknown fields, every value of the right type. On failure
// the error is an ErrorList of every problem, each printed as
// "name:line: field: message": every decoding problem or, when the file
// decodes cleanly, every validation problem.
func Parse(name string, data []byte) (*Topology, error) {
	l := loader{idx: newIndex()}
	t, errs := l.parse(data)
	// Validate only a topology that decoded cleanly: yaml.v3 drops a list
	// item that fails to decode, so the indexes in validation messages
	// would no longer match the file.
	if len(errs) > 0 {
		return nil, errs.err(name)
	}
	t.path = name
	t.ApplyDefaults()
	errs = t.validate(l.idx.line)
	for _, e := range errs {
		e.Line = l.idx.line(e.Field)
	}
	if len(errs) > 0 {
		return nil, errs.err(name)
	}
	return t, nil
}

// Path returns the name the topology was parsed under: the file given to
// Load, or the name given to Parse. It is "" for a Topology built in Go.
func (t *Topology) Path() string { return t.path }

type loader struct {
	idx *index
}

func (l *loader) parse(data []byte) (*Topology, ErrorList) {
	root, errs := l.document(data)
	if root == nil {
		return nil, errs
	}
	w := walker{idx: l.idx, seen: map[walkKey]bool{}}
	w.walk(root, reflect.TypeFor[Topology](), "")
	errs = append(errs, w.errs...)
	t := new(Topology)
	if err := root.Decode(t); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, m := range te.Errors {
				errs = append(errs, l.typeError(m))
			}
		} else {
			errs = append(errs, syntaxError(err))
		}
	}
	return t, errs
}

// document parses data into a node tree and returns its top mapping.
func (l *loader) document(data []byte) (*yaml.Node, ErrorList) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrorList{{Line: 1, Msg: "file is empty; want a topology (sites, datacenters, ...)"}}
		}
		return nil, ErrorList{syntaxError(err)}
	}
	var errs ErrorList
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		errs = append(errs, syntaxError(err))
	default:
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		errs = append(errs, &Error{Line: line, Msg: "a second YAML document; a topology file holds one"})
	}
	if len(doc.Content) == 0 || doc.Content[0].ShortTag() == "!!null" {
		return nil, append(errs, &Error{Line: 1, Msg: "file is empty; want a topology (sites, datacenters, ...)"})
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, append(errs, &Error{Line: root.Line, Msg: "want a mapping of topology fields, got " + kindName(root)})
	}
	return root, errs
}

var (
	syntaxLine    = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	typeLine      = regexp.MustCompile(`^line (\d+): (.*)$`)
	cannotDecode  = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
	duplicateKey  = regexp.MustCompile(`^mapping key (".*") already defined at line (\d+)$`)
	fieldNotFound = regexp.MustCompile(`^field (.*) not found in type .*$`)
	yamlPrefix    = regexp.MustCompile(`^yaml: `)
)

// syntaxError turns a yaml.v3 parse error into an Error with its line.
func syntaxError(err error) *Error {
	msg := err.Error()
	line := 0
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = yamlPrefix.ReplaceAllString(msg, "")
	}
	// yaml.v3 gives the line of a parser error (not a scanner error)
	// 0-based, and leaves it out when it is 0. For most, the line is where
	// the enclosing block or flow collection starts.
	switch msg {
	case "did not find expected key", "did not find expected '-' indicator",
		"did not find expected ',' or ']'", "did not find expected ',' or '}'",
		"did not find expected node content":
		line++
		msg += " (in what starts on this line)"
	case "did not find expected <stream-start>", "did not find expected <document start>",
		"found undefined tag handle", "found duplicate %YAML directive",
		"found incompatible YAML document", "found duplicate %TAG directive":
		line++
	}
	return &Error{Line: line, Msg: "invalid YAML: " + msg}
}

// typeError turns one of yaml.v3's unmarshal errors ("line N: ...") into an
// Error with the field path of the node it is about.
func (l *loader) typeError(msg string) *Error {
	m := typeLine.FindStringSubmatch(msg)
	if m == nil {
		return &Error{Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	e := &Error{Line: line, Msg: m[2]}
	if m := cannotDecode.FindStringSubmatch(e.Msg); m != nil {
		tag, value, into := "!!"+m[1], m[2], m[3]
		ent, ok := l.idx.find(line, func(e entry) bool {
			return !e.key && e.node.ShortTag() == tag && valueMatches(e.node.Value, value)
		})
		if !ok {
			ent, ok = l.idx.find(line, func(e entry) bool { return !e.key })
		}
		got := "!!" + m[1]
		if ok {
			e.Field, got = ent.path, kindName(ent.node)
		}
		e.Msg = fmt.Sprintf("want %s, got %s", goTypeName(into), got)
		return e
	}
	var key string
	if m := duplicateKey.FindStringSubmatch(e.Msg); m != nil {
		key, _ = strconv.Unquote(m[1])
		e.Msg = "duplicate key, first at line " + m[2]
	} else if m := fieldNotFound.FindStringSubmatch(e.Msg); m != nil {
		key, e.Msg = m[1], "unknown field"
	} else {
		return e
	}
	if ent, ok := l.idx.find(line, func(e entry) bool { return e.key && e.node.Value == key }); ok {
		e.Field = ent.path
	}
	return e
}

// valueMatches compares a node's value with the one quoted in a yaml.v3
// message, which cuts values longer than 10 bytes to 7 and "...".
func valueMatches(value, quoted string) bool {
	if cut, ok := strings.CutSuffix(quoted, "..."); ok && len(value) > 10 {
		return strings.HasPrefix(value, cut)
	}
	return value == quoted
}

// goTypeName describes a Go type named in a yaml.v3 message for people.
func goTypeName(t string) string {
	t = strings.TrimLeft(t, "*")
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "configs."):
		return "a mapping"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	}
	return t
}
