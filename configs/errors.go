package configs

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a topology: a syntax error, a value of the wrong
// type, an unknown field, or a failed validation rule. It prints as
// "file:line: field: message", leaving out the parts that are unknown.
type Error struct {
	// File is the name given to Parse (the path given to Load).
	File string
	// Line is the 1-based line of the offending value; for a missing field,
	// the line of the mapping that should hold it. 0 when unknown (for
	// example for Validate on a Topology that was not parsed).
	Line int
	// Field is the dotted path of the field, with list indexes:
	// "datacenters[0].edges[1].listen". Empty for the file as a whole.
	Field string
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a topology, in line order. Parse,
// Load and Validate return one (never empty) as their error; errors.As
// finds its first *Error.
type ErrorList []*Error

// Error prints one problem per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// err returns l sorted by line with File set, or nil when l is empty.
func (l ErrorList) err(file string) error {
	if len(l) == 0 {
		return nil
	}
	for _, e := range l {
		e.File = file
	}
	sort.SliceStable(l, func(i, j int) bool { return l[i].Line < l[j].Line })
	return l
}

// add records a problem with a field.
func (l *ErrorList) add(field, format string, args ...any) {
	*l = append(*l, &Error{Field: field, Msg: fmt.Sprintf(format, args...)})
}
