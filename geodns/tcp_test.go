package geodns_test

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// tcpFrom dials the fleet's DNS over TCP from the loopback address local
// (any 127/8 address is a valid source on Linux); closed at the test's end.
func (f *dnsFleet) tcpFrom(t *testing.T, local string) *dns.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &dns.Conn{Conn: c}
}

// answers reports whether c answers a query within 2 s; a connection the
// server closed fails at once.
func answers(c *dns.Conn) bool {
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if err := c.WriteMsg(question("www.cdn.test.", dns.TypeA)); err != nil {
		return false
	}
	r, err := c.ReadMsg()
	return err == nil && len(r.Answer) > 0
}

// TestTCPLockout is the attack of issue 11 item 12 with small limits: one
// network cannot take more than max_per_client slots however many
// addresses it uses, and when connections that each send a query now and
// then hold every slot, a new client — one that UDP truncation sent to TCP
// — is still answered: the connection idle longest is closed for it.
func TestTCPLockout(t *testing.T) {
	f := startFleet(t, "", `
  tcp: {max_connections: 16, max_per_client: 4, idle_timeout: 10s}
  rate_limit: {responses_per_second: 1, slip: 1}`)

	// Eight addresses of one /24: four connections get in.
	var held []*dns.Conn
	admitted := 0
	for i := 1; i <= 8; i++ {
		c := f.tcpFrom(t, "127.0.30."+strconv.Itoa(i))
		if answers(c) {
			admitted++
			held = append(held, c)
		}
	}
	if admitted != 4 {
		t.Fatalf("one /24 holds %d connections, want max_per_client 4", admitted)
	}
	// Three more networks fill the other twelve slots; each connection
	// has just sent a query, as a client keeping its slot alive would.
	for _, nw := range []string{"127.0.31.", "127.0.32.", "127.0.33."} {
		for i := 1; i <= 4; i++ {
			c := f.tcpFrom(t, nw+strconv.Itoa(i))
			if !answers(c) {
				t.Fatalf("connection %d from %s0/24 not answered with slots free", i, nw)
			}
			held = append(held, c)
		}
	}

	// A resolver on another network is rate limited over UDP and gets a
	// truncated answer, which sends it to TCP.
	udp := &dns.Client{Net: "udp", Timeout: 2 * time.Second,
		Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP("127.0.20.1")}}}
	truncated := false
	for range 10 {
		r, _, err := udp.Exchange(question("www.cdn.test.", dns.TypeA), f.addr)
		if err == nil && r.Truncated {
			truncated = true
			break
		}
	}
	if !truncated {
		t.Fatal("no truncated UDP answer to send the client to TCP")
	}
	if !answers(f.tcpFrom(t, "127.0.20.1")) {
		t.Fatal("with every TCP slot held, a new client is refused")
	}

	// Exactly one held connection made room: the one idle longest.
	closed := 0
	for i, c := range held {
		if !answers(c) {
			closed++
			if i != 0 {
				t.Errorf("held connection %d was closed, want the one idle longest (0)", i)
			}
		}
	}
	if closed != 1 {
		t.Errorf("%d held connections closed for the new client, want 1", closed)
	}
	if m := getJSON(t, "http://"+f.admin+"/metrics"); !strings.Contains(m, "tern_dns_tcp_reclaimed_total 1\n") {
		t.Errorf("metrics lack tern_dns_tcp_reclaimed_total 1")
	}
}
