package httpcache

import "strings"

// This file is a strict parser of the RFC 8941 Dictionary, the syntax of
// CDN-Cache-Control (RFC 9213 §2.1). It checks the whole grammar (keys,
// every bare item type, parameters, inner lists) and hands each member's
// value to a callback without building a tree, so a field on one line is
// parsed without allocating.

// sfKind is the type of a Structured Field member value.
type sfKind uint8

const (
	sfInteger sfKind = iota
	sfDecimal
	sfString
	sfToken
	sfBytes
	sfBoolean
	sfInnerList
)

// sfValue is a member's value; parameters are checked and dropped, as RFC
// 9213 §2.1 ignores them.
type sfValue struct {
	kind    sfKind
	integer int64 // sfInteger
	boolean bool  // sfBoolean
}

// sfParser walks one field value; s is what is left of it.
type sfParser struct{ s string }

// parseSFDictionary parses a Dictionary (RFC 8941 §4.2, §4.2.2) and calls
// member for each member in order; a key that repeats calls member again
// (the later value wins). It reports whether the whole field is valid; the
// callbacks made before an error must then be discarded.
func parseSFDictionary(field string, member func(key string, v sfValue)) bool {
	p := sfParser{s: field}
	p.skipSP()
	for p.s != "" {
		key, ok := p.key()
		if !ok {
			return false
		}
		v := sfValue{kind: sfBoolean, boolean: true}
		if p.peek() == '=' {
			p.s = p.s[1:]
			if v, ok = p.itemOrInnerList(); !ok {
				return false
			}
		} else if !p.parameters() {
			return false
		}
		member(key, v)
		p.skipOWS()
		if p.s == "" {
			return true
		}
		if p.s[0] != ',' {
			return false
		}
		p.s = p.s[1:]
		p.skipOWS()
		if p.s == "" {
			return false // a trailing comma
		}
	}
	return true
}

func (p *sfParser) peek() byte {
	if p.s == "" {
		return 0
	}
	return p.s[0]
}

func (p *sfParser) skipSP() { p.s = strings.TrimLeft(p.s, " ") }

func (p *sfParser) skipOWS() { p.s = strings.TrimLeft(p.s, " \t") }

// key is ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (p *sfParser) key() (string, bool) {
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return "", false
	}
	i := 1
	for i < len(p.s) && isKeyChar(p.s[i]) {
		i++
	}
	key := p.s[:i]
	p.s = p.s[i:]
	return key, true
}

func (p *sfParser) itemOrInnerList() (sfValue, bool) {
	if p.peek() == '(' {
		return p.innerList()
	}
	v, ok := p.bareItem()
	return v, ok && p.parameters()
}

// innerList is "(" *SP [ item *( 1*SP item ) *SP ] ")" parameters.
func (p *sfParser) innerList() (sfValue, bool) {
	p.s = p.s[1:]
	for p.s != "" {
		p.skipSP()
		if p.peek() == ')' {
			p.s = p.s[1:]
			return sfValue{kind: sfInnerList}, p.parameters()
		}
		if _, ok := p.bareItem(); !ok || !p.parameters() {
			return sfValue{}, false
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return sfValue{}, false
		}
	}
	return sfValue{}, false // no closing parenthesis
}

// parameters is *( ";" *SP key [ "=" bare-item ] ).
func (p *sfParser) parameters() bool {
	for p.peek() == ';' {
		p.s = p.s[1:]
		p.skipSP()
		if _, ok := p.key(); !ok {
			return false
		}
		if p.peek() == '=' {
			p.s = p.s[1:]
			if _, ok := p.bareItem(); !ok {
				return false
			}
		}
	}
	return true
}

func (p *sfParser) bareItem() (sfValue, bool) {
	switch c := p.peek(); {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		return sfValue{kind: sfString}, p.str()
	case c == '*' || isAlpha(c):
		p.token()
		return sfValue{kind: sfToken}, true
	case c == ':':
		return sfValue{kind: sfBytes}, p.byteSequence()
	case c == '?':
		return p.boolean()
	}
	return sfValue{}, false
}

// number is an Integer (at most 15 digits) or a Decimal (at most 12
// digits, a dot, and one to three digits), RFC 8941 §4.2.4.
func (p *sfParser) number() (sfValue, bool) {
	neg := p.s[0] == '-'
	if neg {
		p.s = p.s[1:]
	}
	if !isDigit(p.peek()) {
		return sfValue{}, false
	}
	var n int64
	intDigits, dot, fracDigits := 0, false, 0
	for p.s != "" {
		c := p.s[0]
		switch {
		case isDigit(c) && !dot:
			intDigits++
			n = n*10 + int64(c-'0')
		case isDigit(c):
			fracDigits++
		case c == '.' && !dot:
			if intDigits > 12 {
				return sfValue{}, false
			}
			dot = true
		default:
			goto done
		}
		if intDigits > 15 || fracDigits > 3 {
			return sfValue{}, false
		}
		p.s = p.s[1:]
	}
done:
	if dot {
		return sfValue{kind: sfDecimal}, fracDigits > 0
	}
	if neg {
		n = -n
	}
	return sfValue{kind: sfInteger, integer: n}, true
}

// str is a String: printable ASCII in quotes, with only \" and \\ escaped.
func (p *sfParser) str() bool {
	for i := 1; i < len(p.s); i++ {
		switch c := p.s[i]; {
		case c == '\\':
			i++
			if i == len(p.s) || (p.s[i] != '"' && p.s[i] != '\\') {
				return false
			}
		case c == '"':
			p.s = p.s[i+1:]
			return true
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return false // no closing quote
}

// token is ( ALPHA / "*" ) *( tchar / ":" / "/" ); the first character is
// checked by bareItem.
func (p *sfParser) token() {
	i := 1
	for i < len(p.s) && (isTChar(p.s[i]) || p.s[i] == ':' || p.s[i] == '/') {
		i++
	}
	p.s = p.s[i:]
}

// byteSequence is ":" base64 ":". Padding may be missing (RFC 8941 §4.2.7
// asks parsers not to fail then), but "=" may only end the content and the
// length must be one base64 can have.
func (p *sfParser) byteSequence() bool {
	end := strings.IndexByte(p.s[1:], ':')
	if end < 0 {
		return false
	}
	b64 := p.s[1 : 1+end]
	p.s = p.s[2+end:]
	data := strings.TrimRight(b64, "=")
	if pad := len(b64) - len(data); pad > 2 || (pad > 0 && len(b64)%4 != 0) || len(data)%4 == 1 {
		return false
	}
	for i := 0; i < len(data); i++ {
		if c := data[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '/' {
			return false
		}
	}
	return true
}

func (p *sfParser) boolean() (sfValue, bool) {
	if len(p.s) < 2 || (p.s[1] != '0' && p.s[1] != '1') {
		return sfValue{}, false
	}
	v := sfValue{kind: sfBoolean, boolean: p.s[1] == '1'}
	p.s = p.s[2:]
	return v, true
}

func isDigit(c byte) bool   { return '0' <= c && c <= '9' }
func isLCAlpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isAlpha(c byte) bool   { return isLCAlpha(c) || ('A' <= c && c <= 'Z') }

func isKeyChar(c byte) bool {
	return isLCAlpha(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*'
}

// isTChar is RFC 9110's tchar.
func isTChar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
