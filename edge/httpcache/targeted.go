package httpcache

import (
	"strings"
	"time"
)

// ParseCDNCacheControl parses a CDN-Cache-Control field (RFC 9213 §2.1):
// a Structured Field Dictionary whose members are cache directives. Field
// lines are combined with commas (RFC 8941 §4.2). Each directive's value
// must have its type: the durations an Integer ≥ 0 (capped at 2^31 s),
// the flags a Boolean (a bare key is true, ?0 turns the directive off),
// no-cache and private a Boolean or a String (whose field names are
// ignored, as in ParseCacheControl), max-stale a Boolean or an Integer.
// Unknown directives may have any value; parameters are ignored. As in
// any Dictionary, a directive that repeats takes its last value.
//
// ok is false when the field is empty, does not parse, or a directive has
// a value of the wrong type (max-age="10000"): the whole field must then
// be ignored, as if it were absent.
func ParseCDNCacheControl(lines []string) (d Directives, ok bool) {
	field := ""
	switch len(lines) {
	case 0:
		return absent(), false
	case 1:
		field = lines[0]
	default:
		// Rare, and the only case that allocates.
		field = strings.Join(lines, ",")
	}
	d = absent()
	var wrongType uint32 // a bit per directive whose last value had the wrong type
	valid := parseSFDictionary(field, func(key string, v sfValue) {
		d.present = true
		i, known := targetedDirective(key)
		if !known {
			return
		}
		if applyTargeted(&d, key, v) {
			wrongType &^= 1 << i
		} else {
			wrongType |= 1 << i
		}
	})
	if !valid || wrongType != 0 || !d.present {
		return absent(), false
	}
	return d, true
}

// targetedDirectives are the directives ParseCDNCacheControl knows; the
// index is the directive's bit in the wrong-type mask.
var targetedDirectives = [...]string{
	"max-age", "s-maxage", "max-stale", "min-fresh", "stale-while-revalidate", "stale-if-error",
	"no-cache", "no-store", "no-transform", "private", "public",
	"must-revalidate", "proxy-revalidate", "only-if-cached", "immutable",
}

func targetedDirective(key string) (int, bool) {
	for i, k := range targetedDirectives {
		if k == key {
			return i, true
		}
	}
	return 0, false
}

// applyTargeted sets a known directive from its value and reports whether
// the value had the directive's type.
func applyTargeted(d *Directives, key string, v sfValue) bool {
	switch key {
	case "max-age":
		return setDuration(&d.MaxAge, v)
	case "s-maxage":
		return setDuration(&d.SMaxAge, v)
	case "min-fresh":
		return setDuration(&d.MinFresh, v)
	case "stale-while-revalidate":
		return setDuration(&d.StaleWhileRevalidate, v)
	case "stale-if-error":
		return setDuration(&d.StaleIfError, v)
	case "max-stale":
		if v.kind == sfBoolean {
			d.MaxStaleAny, d.MaxStale = v.boolean, -1
			return true
		}
		d.MaxStaleAny = false
		return setDuration(&d.MaxStale, v)
	case "no-cache":
		return setFlagOrFields(&d.NoCache, v)
	case "private":
		return setFlagOrFields(&d.Private, v)
	case "no-store":
		return setFlag(&d.NoStore, v)
	case "no-transform":
		return setFlag(&d.NoTransform, v)
	case "public":
		return setFlag(&d.Public, v)
	case "must-revalidate":
		return setFlag(&d.MustRevalidate, v)
	case "proxy-revalidate":
		return setFlag(&d.ProxyRevalidate, v)
	case "only-if-cached":
		return setFlag(&d.OnlyIfCached, v)
	case "immutable":
		return setFlag(&d.Immutable, v)
	}
	return true
}

// setDuration takes an Integer ≥ 0 as seconds, capped at 2^31 s (RFC 9111
// §1.2.2).
func setDuration(dst *time.Duration, v sfValue) bool {
	if v.kind != sfInteger || v.integer < 0 {
		return false
	}
	if v.integer >= int64(maxDelta/time.Second) {
		*dst = maxDelta
	} else {
		*dst = time.Duration(v.integer) * time.Second
	}
	return true
}

func setFlag(dst *bool, v sfValue) bool {
	if v.kind != sfBoolean {
		return false
	}
	*dst = v.boolean
	return true
}

// setFlagOrFields takes a Boolean, or a String of field names (the
// qualified form), which counts as true: revalidating or not sharing the
// whole response is the safe reading of it.
func setFlagOrFields(dst *bool, v sfValue) bool {
	if v.kind == sfString {
		*dst = true
		return true
	}
	return setFlag(dst, v)
}
