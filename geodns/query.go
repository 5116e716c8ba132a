package geodns

import (
	"encoding/binary"
	"net/netip"

	"github.com/miekg/dns"
)

// Header flag bits (RFC 1035 §4.1.1).
const (
	flagQR     = 1 << 15
	flagAA     = 1 << 10
	flagTC     = 1 << 9
	flagRD     = 1 << 8
	flagCD     = 1 << 4
	opcodeMask = 0xF << 11
	headerLen  = 12
)

// query is what the server needs of a request, read straight from the wire
// without allocating. Anything it does not cover leaves simple false and
// the request to the general path (dns.Msg).
type query struct {
	id      uint16
	flags   uint16
	opcode  int
	qdcount int

	// The question, when there is exactly one.
	qname  []byte // wire form as asked (a slice of the packet)
	key    [256]byte
	keyLen int // key[:keyLen] is the lower-case presentation name, with the final dot
	qtype  uint16
	qclass uint16
	qend   int // offset just past the question

	// EDNS0 (RFC 6891).
	edns       bool
	udpSize    uint16
	do         bool
	version    uint8
	badOptions bool // an OPT that is malformed, or more than one OPT
	// badQuestion: the packet ends inside its one question (RFC 1035
	// §4.1.2: a name, a type and a class), which dns.Msg would read as
	// TYPE0 CLASS0.
	badQuestion bool
	// otherOptions: options the fast path leaves to dns.Msg.
	otherOptions bool
	ecs          ecsOption

	// simple is true when the fast path may answer: one IN question with a
	// plain name, no records but one well-formed OPT, EDNS version 0.
	simple bool

	// places is the worker's cache, kept across queries.
	places *placeCache
}

// ecsOption is a query's EDNS Client Subnet option (RFC 7871 §6).
type ecsOption struct {
	present bool
	family  uint16
	source  uint8
	scope   uint8
	addr    netip.Addr // as sent, masked to source
}

// name returns the lower-case presentation form of the question's name.
func (q *query) name() []byte { return q.key[:q.keyLen] }

// parseQuery reads the header, the question and the OPT record of b. ok is
// false when b is too short to hold a header (nothing can be answered).
// Problems after the header are reported by the fields (badOptions,
// simple=false) so the caller can choose the error.
func parseQuery(b []byte, q *query) (ok bool) {
	*q = query{places: q.places}
	if len(b) < headerLen {
		return false
	}
	q.id = binary.BigEndian.Uint16(b)
	q.flags = binary.BigEndian.Uint16(b[2:])
	q.opcode = int(q.flags&opcodeMask) >> 11
	q.qdcount = int(binary.BigEndian.Uint16(b[4:]))
	ancount := binary.BigEndian.Uint16(b[6:])
	nscount := binary.BigEndian.Uint16(b[8:])
	arcount := binary.BigEndian.Uint16(b[10:])
	if q.qdcount != 1 {
		return true
	}
	off, plain := q.readName(b, headerLen)
	if off < 0 {
		// A compressed (or broken) question name: dns.Msg reads it, but
		// the OPT and its ECS are still read here.
		q.qname, q.keyLen, plain = nil, 0, false
		off = nameEnd(b, headerLen)
	}
	if off < 0 || off+4 > len(b) {
		q.badQuestion = true
		return true
	}
	q.qtype = binary.BigEndian.Uint16(b[off:])
	q.qclass = binary.BigEndian.Uint16(b[off+2:])
	q.qend = off + 4
	off = q.qend
	// Skip answer and authority records (a query has none; a NOTIFY or
	// UPDATE may), then look for the OPT among the additional records.
	for i := 0; i < int(ancount)+int(nscount); i++ {
		if off = skipRR(b, off); off < 0 {
			q.badOptions = true
			return true
		}
	}
	for i := 0; i < int(arcount); i++ {
		end := skipRR(b, off)
		if end < 0 {
			q.badOptions = true
			return true
		}
		if ne := nameEnd(b, off); binary.BigEndian.Uint16(b[ne:]) == dns.TypeOPT {
			if q.edns || ne != off+1 {
				// RFC 6891 §6.1.1: one OPT, owned by the root.
				q.badOptions = true
			}
			q.edns = true
			q.readOPT(b[off:end])
		}
		off = end
	}
	q.simple = plain && off == len(b) && ancount == 0 && nscount == 0 &&
		(arcount == 0 || (arcount == 1 && q.edns)) && !q.badOptions && !q.otherOptions && q.version == 0 &&
		q.qclass == dns.ClassINET && q.opcode == dns.OpcodeQuery && q.flags&flagQR == 0
	return true
}

// readName reads the question's name at off: it sets qname and key and
// returns the offset past it, or -1. plain is false for names the fast
// path does not take (compression, odd bytes in labels), which the general
// path then handles.
func (q *query) readName(b []byte, off int) (end int, plain bool) {
	start, n := off, 0
	plain = true
	for {
		if off >= len(b) {
			return -1, false
		}
		l := int(b[off])
		if l == 0 {
			off++
			break
		}
		if l&0xC0 != 0 || off+1+l > len(b) {
			// A pointer in a question is legal but rare; leave it to dns.Msg.
			return -1, false
		}
		if n+l+1 > 254 {
			return -1, false
		}
		for _, c := range b[off+1 : off+1+l] {
			switch {
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '*':
			default:
				plain = false
			}
			q.key[n] = c
			n++
		}
		q.key[n] = '.'
		n++
		off += 1 + l
	}
	if n == 0 {
		q.key[0] = '.'
		n = 1
	}
	q.qname = b[start:off]
	q.keyLen = n
	return off, plain
}

// nameEnd returns the offset past the (possibly compressed) name at off,
// or -1.
func nameEnd(b []byte, off int) int {
	for {
		if off >= len(b) {
			return -1
		}
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1
		case l&0xC0 == 0xC0:
			if off+2 > len(b) {
				return -1
			}
			return off + 2
		case l&0xC0 != 0:
			return -1
		}
		off += 1 + l
	}
}

// skipRR returns the offset past the resource record at off, or -1.
func skipRR(b []byte, off int) int {
	if off = nameEnd(b, off); off < 0 {
		return -1
	}
	if off+10 > len(b) {
		return -1
	}
	rdlen := int(binary.BigEndian.Uint16(b[off+8:]))
	off += 10 + rdlen
	if off > len(b) {
		return -1
	}
	return off
}

// readOPT reads an OPT record (owner, type, class = UDP size, TTL = extended
// RCODE, version and flags, then options).
func (q *query) readOPT(rr []byte) {
	if len(rr) < 11 {
		q.badOptions = true
		return
	}
	q.udpSize = binary.BigEndian.Uint16(rr[3:])
	q.version = rr[6]
	q.do = rr[7]&0x80 != 0
	opts := rr[11:]
	for len(opts) > 0 {
		if len(opts) < 4 {
			q.badOptions = true
			return
		}
		code := binary.BigEndian.Uint16(opts)
		l := int(binary.BigEndian.Uint16(opts[2:]))
		if 4+l > len(opts) {
			q.badOptions = true
			return
		}
		switch code {
		case dns.EDNS0SUBNET:
			if q.ecs.present || !q.ecs.read(opts[4:4+l]) {
				q.badOptions = true
				return
			}
		case dns.EDNS0COOKIE, dns.EDNS0PADDING:
			// Ignored, as RFC 6891 §6.1.2 asks for options we do not use.
		default:
			// Others (NSID, keepalive, ...) have rules dns.Msg knows.
			q.otherOptions = true
		}
		opts = opts[4+l:]
	}
}

// read parses and checks an ECS option's data; false means FORMERR (RFC
// 7871 §6: unknown family, prefix too long for it, a non-zero scope in a
// query, too few or too many address octets, or bits set past the source
// prefix).
func (e *ecsOption) read(d []byte) bool {
	if len(d) < 4 {
		return false
	}
	e.family = binary.BigEndian.Uint16(d)
	e.source, e.scope = d[2], d[3]
	addr := d[4:]
	var buf [16]byte
	var full []byte
	switch e.family {
	case 1:
		full = buf[:4]
	case 2:
		full = buf[:16]
	default:
		return false
	}
	if int(e.source) > 8*len(full) || e.scope != 0 || len(addr) != (int(e.source)+7)/8 {
		return false
	}
	copy(full, addr)
	if rem := e.source % 8; rem != 0 && addr[len(addr)-1]&(0xFF>>rem) != 0 {
		return false
	}
	e.addr, _ = netip.AddrFromSlice(full)
	e.present = true
	return true
}
