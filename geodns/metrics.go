package geodns

import (
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics of a dns server. Label values are resolved once, so counting a
// query is a few atomic adds.
type metrics struct {
	queries     [len(metricQtypes) + 1][len(metricRcodes) + 1]prometheus.Counter
	answers     []prometheus.Counter // by data center; the last is fail open
	ecs         [3]prometheus.Counter
	latency     prometheus.Histogram
	limited     [3]prometheus.Counter // by Verdict (Drop, Slip)
	dropped     prometheus.Counter
	tcpOpen     prometheus.Gauge
	tcpRejected prometheus.Counter
	// tcpReclaimed counts idle connections closed for new ones.
	tcpReclaimed prometheus.Counter
	panics       prometheus.Counter
}

// metricQtypes and metricRcodes are the label values kept apart; others
// count as "other".
var (
	metricQtypes = [...]uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeMX, dns.TypeTXT, dns.TypeNS,
		dns.TypeSOA, dns.TypeCAA, dns.TypeSRV, dns.TypePTR, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeANY}
	metricRcodes = [...]int{dns.RcodeSuccess, dns.RcodeFormatError, dns.RcodeServerFailure, dns.RcodeNameError,
		dns.RcodeNotImplemented, dns.RcodeRefused, dns.RcodeBadVers}
)

func newMetrics(reg prometheus.Registerer, dcs []string) *metrics {
	f := promauto.With(reg)
	m := &metrics{}
	queries := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tern_dns_queries_total", Help: "DNS queries answered, by question type and response code (NXDOMAIN, NOERROR with no answer is NODATA).",
	}, []string{"qtype", "rcode"})
	for i := range m.queries {
		qt := "other"
		if i < len(metricQtypes) {
			qt = dns.TypeToString[metricQtypes[i]]
		}
		for j := range m.queries[i] {
			rc := "other"
			if j < len(metricRcodes) {
				rc = rcodeLabel(metricRcodes[j])
			}
			m.queries[i][j] = queries.WithLabelValues(qt, rc)
		}
	}
	answers := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tern_dns_answers_total", Help: "Geo answers by the data center answered (fail-open: every data center was down).",
	}, []string{"datacenter"})
	for _, s := range dcs {
		m.answers = append(m.answers, answers.WithLabelValues(s))
	}
	m.answers = append(m.answers, answers.WithLabelValues("fail-open"))
	ecs := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tern_dns_ecs_queries_total", Help: "Queries by EDNS Client Subnet: absent, present, or invalid (answered FORMERR).",
	}, []string{"ecs"})
	for i, v := range []string{"absent", "present", "invalid"} {
		m.ecs[i] = ecs.WithLabelValues(v)
	}
	m.latency = f.NewHistogram(prometheus.HistogramOpts{
		Name: "tern_dns_query_duration_seconds", Help: "Time from a query read to its response ready to send.",
		Buckets: []float64{1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2},
	})
	limited := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tern_dns_rate_limited_total", Help: "UDP responses over the rate limit: dropped, or sent truncated (slip).",
	}, []string{"action"})
	m.limited[Drop] = limited.WithLabelValues("drop")
	m.limited[Slip] = limited.WithLabelValues("slip")
	m.dropped = f.NewCounter(prometheus.CounterOpts{
		Name: "tern_dns_unanswered_total", Help: "Packets not answered: shorter than a header, or responses.",
	})
	m.tcpOpen = f.NewGauge(prometheus.GaugeOpts{Name: "tern_dns_tcp_connections", Help: "Open DNS-over-TCP connections."})
	m.tcpRejected = f.NewCounter(prometheus.CounterOpts{
		Name: "tern_dns_tcp_rejected_total", Help: "TCP connections closed at once: their client network held max_per_client, or the server is stopping.",
	})
	m.tcpReclaimed = f.NewCounter(prometheus.CounterOpts{
		Name: "tern_dns_tcp_reclaimed_total", Help: "Idle TCP connections closed to admit a new one when max_connections were open.",
	})
	m.panics = f.NewCounter(prometheus.CounterOpts{Name: "tern_dns_panics_total", Help: "Queries whose handling panicked (answered SERVFAIL)."})
	return m
}

// rcodeLabel names an rcode as the server sends it. Extended rcodes mean
// different things by context (16 is BADVERS with an OPT, BADSIG with a
// TSIG; dns.RcodeToString says BADSIG); the server sends them only with an
// OPT, so they are named by their EDNS meaning (RFC 6891).
func rcodeLabel(rcode int) string {
	if rcode == dns.RcodeBadVers {
		return "BADVERS"
	}
	return dns.RcodeToString[rcode]
}

// tally counts one worker's queries between flushes, so that the sockets'
// goroutines do not contend on the shared counters for every query.
type tally struct {
	queries [len(metricQtypes) + 1][len(metricRcodes) + 1]uint32
	answers []uint32
	ecs     [3]uint32
	limited [3]uint32
	dropped uint32
	n       uint32 // queries since the last flush
	seen    uint32 // queries ever, for sampling the latency
}

// latencySample: one query in this many has its duration observed (two
// clock reads and a histogram update cost as much as a fast answer).
const latencySample = 16

func (m *metrics) newTally() *tally {
	return &tally{answers: make([]uint32, len(m.answers))}
}

// flush adds a tally to the metrics and clears it.
func (m *metrics) flush(t *tally) {
	if t.n == 0 && t.dropped == 0 {
		return
	}
	for i := range t.queries {
		for j, v := range t.queries[i] {
			if v != 0 {
				m.queries[i][j].Add(float64(v))
			}
		}
	}
	for i, v := range t.answers {
		if v != 0 {
			m.answers[i].Add(float64(v))
		}
	}
	for i, v := range t.ecs {
		if v != 0 {
			m.ecs[i].Add(float64(v))
		}
	}
	for i, v := range t.limited {
		if v != 0 {
			m.limited[i].Add(float64(v))
		}
	}
	if t.dropped != 0 {
		m.dropped.Add(float64(t.dropped))
	}
	answers := t.answers
	clear(answers)
	*t = tally{answers: answers, seen: t.seen}
}

func (t *tally) count(res *result) {
	t.n++
	if res.noReply {
		t.dropped++
		return
	}
	qi := len(metricQtypes)
	for i, t := range metricQtypes {
		if t == res.qtype {
			qi = i
			break
		}
	}
	ri := len(metricRcodes)
	for i, rc := range metricRcodes {
		if rc == res.rcode {
			ri = i
			break
		}
	}
	t.queries[qi][ri]++
	t.ecs[res.ecs]++
	switch {
	case res.dc >= 0:
		t.answers[res.dc]++
	case res.dc == -2:
		t.answers[len(t.answers)-1]++
	}
}
